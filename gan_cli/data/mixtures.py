"""The 2-D Gaussian mixtures of the PacGAN benchmarks (Lin et al. 2018): ring and grid."""

from __future__ import annotations

import math

import torch

from gan_cli.data.base import DATASETS, MixtureSampler


def ring_centers(num_modes: int = 8, radius: float = 1.0) -> torch.Tensor:
    """Modes at radius * (cos 2*pi*i/M, sin 2*pi*i/M)."""
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()  # [M, 2]


def grid_centers(grid_size: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """Modes at spacing * {-(S-1)/2, ..., (S-1)/2}^2; the defaults give {-4, -2, 0, 2, 4}^2."""
    axis = (torch.arange(grid_size, dtype=torch.float64) - (grid_size - 1) / 2) * spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1).float()  # [S*S, 2]


@DATASETS.register("ring")
def ring(cfg, seed: int, device: torch.device) -> MixtureSampler:
    return MixtureSampler(ring_centers(cfg.num_modes, cfg.radius), cfg.std, seed, device)


@DATASETS.register("grid")
def grid(cfg, seed: int, device: torch.device) -> MixtureSampler:
    return MixtureSampler(grid_centers(cfg.grid_size, cfg.spacing), cfg.std, seed, device)
