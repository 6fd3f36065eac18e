"""data/mixtures.py: PacGAN's ring and grid, their spread and density."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_cli.data import DATASETS
from gan_cli.data.mixtures import grid_centers, ring_centers
from tests.helpers import (
    make_cfg,
)

CPU = torch.device("cpu")


def test_ring_and_grid_are_the_pacgan_mixtures():
    ring = ring_centers()
    assert ring.shape == (8, 2)
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    assert torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-6)  # i=2: (cos pi/2, sin pi/2)
    grid = grid_centers()
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0] and grid.shape == (25, 2)
    ring_data = DATASETS.build(make_cfg(["dataset=ring"]).dataset, 0, CPU)
    grid_data = DATASETS.build(make_cfg(["dataset=grid"]).dataset, 0, CPU)
    assert torch.equal(ring_data.centers, ring) and torch.equal(grid_data.centers, grid)
    assert ring_data.std == 0.01 and grid_data.std == 0.05  # the benchmark defaults


def test_mixture_samples_have_the_right_spread_and_density():
    data = DATASETS.build(make_cfg(["dataset=grid"]).dataset, 0, CPU)
    x = data.next(20000)
    nearest = torch.cdist(x, data.centers).argmin(1)
    offsets = x - data.centers[nearest]
    assert offsets.std().item() == pytest.approx(0.05, rel=0.05)
    counts = torch.bincount(nearest, minlength=25).float()
    assert counts.min() > 0.8 * 20000 / 25  # all modes, about equally
    # the log density integrates the mixture: at a centre, log(1/(25 * 2 pi sigma^2))
    expected = -np.log(25 * 2 * np.pi * 0.05**2)
    assert data.log_density(data.centers[:1]).item() == pytest.approx(expected, rel=1e-4)
    state = data.state_dict()
    a = data.next(5)
    data.load_state_dict(state)
    assert torch.equal(a, data.next(5))
