"""Datasets: each config in conf/dataset/ names a builder here that returns a device-resident Sampler."""

from __future__ import annotations

from gan_cli.data.samplers import MixtureSampler, Sampler, TensorSampler
from gan_cli.registry import Registry

DATASETS = Registry("dataset")

# Builders register themselves on import.
from gan_cli.data import images as _images  # noqa: E402,F401
from gan_cli.data import mixtures as _mixtures  # noqa: E402,F401

__all__ = ["DATASETS", "MixtureSampler", "Sampler", "TensorSampler"]
