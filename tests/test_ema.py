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


def test_a_decay_the_warm_up_never_reaches_is_named_in_a_warning():
    """min(decay, (1 + step) / (10 + step)): below step 44,990 a decay of 0.9998 averages exactly as 0.999
    does up to step 8,990, so a run that sets it for 6,000 steps gets the default's average and is told."""
    from gan_cli import schema
    from tests.helpers import make_cfg

    def averaged(decay: float, steps: range) -> float:
        G = nn.Linear(1, 1, bias=False)
        G_ema = make_ema(G)
        for step in steps:
            with torch.no_grad():
                G.weight.fill_(float(step % 7))
            update_ema(G_ema, G, decay, step)
        return G_ema.weight.item()

    assert averaged(0.9998, range(6000)) == averaged(0.999, range(6000))
    assert averaged(0.9998, range(9500)) != averaged(0.999, range(9500))
    (note,) = schema.unused(make_cfg(["train.ema_decay=0.9998", "train.steps=6000"]), (1, 16, 16))
    assert note.startswith("train.ema_decay=0.9998 has no effect in a run of train.steps=6000")
    assert "until step 44,990" in note
    quiet = (
        ["train.ema_decay=0.9998", "train.steps=50000"],  # reached at step 44,990
        ["train.ema_decay=0.99", "train.steps=6000"],  # reached at step 890
        ["train.ema_decay=0.9998", "train.steps=6000", "train.ema=false"],  # no average at all
    )
    for over in quiet:
        assert schema.unused(make_cfg(over), (1, 16, 16)) == []
