"""Exponential moving average of G's weights, used for samples (G_ema)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(G: nn.Module) -> nn.Module:
    G_ema = copy.deepcopy(G).eval()
    G_ema.requires_grad_(False)
    return G_ema


def warm_up(step: int) -> float:
    """The largest decay update_ema uses at this step: (1 + step) / (10 + step)."""
    return (1 + step) / (10 + step)


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, decay: float, step: int) -> None:
    """G_ema <- d * G_ema + (1 - d) * G, with d ramped up as (1 + step) / (10 + step) early in training."""
    d = min(decay, warm_up(step))
    ema_params = list(G_ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in G.parameters()], 1.0 - d)
    buffers = list(G_ema.buffers())
    if buffers:  # batch-norm statistics follow G (one kernel for all)
        torch._foreach_copy_(buffers, list(G.buffers()))
