"""Networks: each config in conf/model/ names a builder here returning (G, D) for a data shape."""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.registry import Registry

MODELS = Registry("model")


def latent(n: int, nz: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """The prior p_z: standard normal [n, nz]."""
    return torch.randn(n, nz, device=device, generator=generator)


from gan_cli.nets import dcgan as _dcgan  # noqa: E402,F401
from gan_cli.nets import mlp as _mlp  # noqa: E402,F401

__all__ = ["MODELS", "latent"]
