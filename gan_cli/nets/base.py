"""What every network shares: the registry of architectures, D's output, and the prior p_z.

D has one calling convention, whatever wraps it: `D(x, y)` with x [N, ...] and y the class labels [N]
(None for an unconditional D) returns a `DOut`: `logits` [N] (one per packed group when D packs samples)
and `codes` (an InfoGAN head's [N, K], else None).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_cli.registry import Registry

MODELS = Registry("model")  # builder(cfg.model, shape, pac) -> (G, D) for one sample's shape
DRAW = 1024  # generate(): latents drawn this many at a time


class DOut(NamedTuple):
    logits: Tensor  # [N] (or [N / pac])
    codes: Tensor | None = None  # InfoGAN's estimates of z's code [N, K]


def spectral_normalize(D: nn.Module) -> nn.Module:
    """model.d_norm=spectral (Miyato et al. 2018): every convolution and linear layer of D divided by its
    largest singular value, estimated by one power iteration per training forward. The iteration's vectors
    are buffers, saved in checkpoints, so a resumed run continues exactly."""
    for module in list(D.modules()):
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            spectral_norm(module)
    return D


def latent(n: int, nz: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """The prior p_z: standard normal [n, nz]."""
    return torch.randn(n, nz, device=device, generator=generator)


@torch.no_grad()
def generate(
    G: torch.nn.Module,
    nz: int,
    num: int,
    seed: int,
    device: torch.device,
    batch: int = 1024,
    label: int | None = None,
) -> Tensor:
    """num samples from G in eval mode, from a seeded generator of their own (the global RNG is untouched).
    label=k: every sample of class k of a model.latent_classes G (a CategoricalLatent; the dataset's label k
    when the run is conditional)."""
    was_training = G.training
    G.eval()
    gen = torch.Generator().manual_seed(seed)
    # z is drawn in chunks of DRAW whatever `batch` is (torch's normal draws depend on the tensor's size),
    # so a seed gives the same samples at any batch
    z = torch.cat([latent(min(DRAW, num - i), nz, torch.device("cpu"), gen) for i in range(0, num, DRAW)])
    if label is not None:  # z's first coordinate in the middle of that class's share
        z[:, 0] = G.z0_of(label)
    chunks = [G(z[i : i + batch].to(device)).float().cpu() for i in range(0, num, batch)]
    G.train(was_training)
    return torch.cat(chunks)
