"""Datasets: each config in conf/dataset/ names a builder that returns a device-resident Sampler."""

from __future__ import annotations

# Builders register themselves in DATASETS when their module is imported.
from gan_cli.data import images as _images  # noqa: F401
from gan_cli.data import mixtures as _mixtures  # noqa: F401
from gan_cli.data.base import DATASETS, MixtureSampler, Sampler, TensorSampler

__all__ = ["DATASETS", "MixtureSampler", "Sampler", "TensorSampler"]
