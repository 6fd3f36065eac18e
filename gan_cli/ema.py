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


def ema_decay(t, step: int, batch: int) -> float:
    """The decay of G's weight average at `step` (1-based) for the train group `t`: StyleGAN2's half-life
    in images when train.ema_kimg > 0 (0.5 ** (batch / half-life), the half-life at most ema_rampup times
    the images seen before this step), else min(train.ema_decay, the warm-up (1 + step) / (10 + step))."""
    kimg = float(t.get("ema_kimg", 0.0))
    if kimg <= 0:
        return min(float(t.ema_decay), warm_up(step))
    half_life = kimg * 1000
    if t.get("ema_rampup", 0.0):
        half_life = min(half_life, (step - 1) * batch * float(t.ema_rampup))
    return 0.5 ** (batch / max(half_life, 1e-8))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, decay: float, step: int | None = None) -> None:
    """G_ema <- d * G_ema + (1 - d) * G; with `step`, d = min(decay, (1 + step) / (10 + step)) (the
    warm-up), without it d = decay (ema_decay() worked it out)."""
    d = min(decay, warm_up(step)) if step is not None else decay
    ema_params = list(G_ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in G.parameters()], 1.0 - d)
    buffers = list(G_ema.buffers())
    if buffers:  # batch-norm statistics follow G (one kernel for all)
        torch._foreach_copy_(buffers, list(G.buffers()))
