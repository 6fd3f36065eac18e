"""Networks: each config in conf/model/ names a builder returning (G, D) for a data shape; the wrappers
that tricks put around them; D's output type and the prior p_z."""

from __future__ import annotations

# Builders register themselves in MODELS when their module is imported.
from gan_cli.nets import dcgan as _dcgan  # noqa: F401
from gan_cli.nets import mlp as _mlp  # noqa: F401
from gan_cli.nets import resnet as _resnet  # noqa: F401
from gan_cli.nets import stylegan2 as _stylegan2  # noqa: F401
from gan_cli.nets.base import MODELS, DOut, generate, latent
from gan_cli.nets.heads import (
    CategoricalLatent,
    InfoHead,
    Packed,
    Projection,
    categorical,
    category,
    single,
)

__all__ = [
    "MODELS",
    "CategoricalLatent",
    "DOut",
    "InfoHead",
    "Packed",
    "Projection",
    "categorical",
    "category",
    "generate",
    "latent",
    "single",
]
