"""Networks: each config in conf/model/ names a builder here returning (G, D) for a data shape."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_cli.registry import Registry

MODELS = Registry("model")


class Packed(nn.Module):
    """PacGAN (Lin et al. 2018): D judges `pac` samples at once, concatenated along the first feature axis
    (channels for images), so a mode-collapsed batch is easy to spot. [N, ...] -> logits [N / pac]."""

    def __init__(self, D: nn.Module, pac: int) -> None:
        super().__init__()
        self.D, self.pac = D, pac

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.pac:
            raise ValueError(f"model.pac={self.pac} needs a batch that is a multiple of it, got {x.shape[0]}")
        return self.D(x.reshape(x.shape[0] // self.pac, self.pac * x.shape[1], *x.shape[2:]))

    def single(self, x: Tensor) -> Tensor:
        """D's output for each sample packed with copies of itself [N] (for heat maps)."""
        return self(x.repeat_interleave(self.pac, dim=0))


def build_models(cfg, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for one sample's shape; D packs `model.pac` samples when pac > 1."""
    pac = int(cfg.get("pac", 1))
    if pac == 1:
        return MODELS.build(cfg, shape)
    G, D = MODELS.build(cfg, shape, pac)  # D's input: pac samples concatenated
    return G, Packed(D, pac)


def single(D: nn.Module, x: Tensor) -> Tensor:
    """D's score of each sample in x on its own, packed or not."""
    return D.single(x) if isinstance(D, Packed) else D(x)


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

__all__ = ["MODELS", "Packed", "build_models", "generate", "latent", "single"]
