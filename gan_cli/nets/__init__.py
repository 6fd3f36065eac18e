"""Networks: each config in conf/model/ names a builder here returning (G, D) for a data shape."""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.registry import Registry

MODELS = Registry("model")


def latent(n: int, nz: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """The prior p_z: standard normal [n, nz]."""
    return torch.randn(n, nz, device=device, generator=generator)


@torch.no_grad()
def generate(
    G: torch.nn.Module, nz: int, num: int, seed: int, device: torch.device, batch: int = 1024
) -> Tensor:
    """num samples from G in eval mode, from a seeded generator of their own (the global RNG is untouched)."""
    was_training = G.training
    G.eval()
    gen = torch.Generator().manual_seed(seed)
    chunks = [
        G(latent(min(batch, num - i), nz, torch.device("cpu"), gen).to(device)).float().cpu()
        for i in range(0, num, batch)
    ]
    G.train(was_training)
    return torch.cat(chunks)


from gan_cli.nets import dcgan as _dcgan  # noqa: E402,F401
from gan_cli.nets import mlp as _mlp  # noqa: E402,F401

__all__ = ["MODELS", "generate", "latent"]
