"""ema.py: the weight average of G, with its warm-up, and batch-norm statistics that follow G."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_cli.ema import make_ema, update_ema


def test_the_average_moves_by_one_minus_the_decay_with_a_warm_up():
    G = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        G[0].weight.fill_(0.0)
    G_ema = make_ema(G)
    assert not G_ema.training and not any(p.requires_grad for p in G_ema.parameters())
    with torch.no_grad():
        G[0].weight.fill_(1.0)
        G[1].running_mean.fill_(5.0)
    update_ema(G_ema, G, decay=0.999, step=0)  # warm-up: d = min(0.999, 1/10)
    assert G_ema[0].weight.item() == pytest.approx(0.9)
    assert G_ema[1].running_mean.item() == 5.0  # buffers are copied, not averaged
    update_ema(G_ema, G, decay=0.5, step=1000)  # after the warm-up: the decay itself
    assert G_ema[0].weight.item() == pytest.approx(0.95)
