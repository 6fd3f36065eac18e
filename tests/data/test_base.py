"""data/base.py: the device-resident sampler's epochs and exact restore."""

from __future__ import annotations

import torch

from gan_cli.data import DATASETS
from gan_cli.schema import DatasetConfig
from tests.helpers import (
    group_cfg,
)

CPU = torch.device("cpu")


def data_cfg(name: str, **kw):
    return group_cfg(DatasetConfig, name, **kw)


def test_tensor_sampler_epochs_visit_every_image_once_and_restore_exactly():
    data = DATASETS.build(data_cfg("digits", image_size=8, num_samples=50), 3, CPU)
    idx = torch.cat([data.next_indices(16) for _ in range(3)] + [data.next_indices(2)])  # one epoch
    assert sorted(idx.tolist()) == list(range(50))
    data.next_indices(7)  # part-way through the second epoch
    state = data.state_dict()
    ahead = [data.next(13) for _ in range(6)]  # crosses an epoch boundary
    data.load_state_dict(state)
    again = [data.next(13) for _ in range(6)]
    assert all(torch.equal(a, b) for a, b in zip(ahead, again, strict=True))
    assert data.next(120).shape[0] == 120  # batches larger than the dataset span epochs
