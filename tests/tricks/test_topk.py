"""tricks/topk.py: the annealed fraction and the logits G keeps."""

from __future__ import annotations

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import ConfigError
from gan_cli.losses import build_loss
from gan_cli.train import train
from gan_cli.tricks import build_tricks
from tests.helpers import (
    FAST,
    RING,
    make_cfg,
)


@pytest.mark.slow
def test_topk_fraction_anneals_over_the_first_half_and_training_uses_it(tmp_path):
    from gan_cli.tricks.topk import TopK, topk_fraction

    assert topk_fraction(0.5, 0, 100) == 1.0
    assert topk_fraction(0.5, 25, 100) == pytest.approx(0.75)
    assert topk_fraction(0.5, 50, 100) == topk_fraction(0.5, 100, 100) == pytest.approx(0.5)
    logits = torch.tensor([0.3, -2.0, 1.5, 0.1, -0.4, 2.2, 0.0, -1.0])
    assert TopK(0.5).g_logits(logits, 100, 100).tolist() == pytest.approx(
        [2.2, 1.5, 0.3, 0.1]
    )  # D's best half
    assert len(TopK(0.5).g_logits(logits, 25, 100)) == 6  # ceil(0.75 * 8)
    cfg = make_cfg([*RING, "loss=hinge"])
    assert not [t for t in build_tricks(cfg, build_loss(cfg.loss)) if t.name == "topk"]  # off by default
    summary = train(make_cfg([*RING, *FAST, "loss.topk=0.5", "train.steps=1"]), tmp_path / "run")
    assert summary["status"] == "completed"
    # against a plain run: after one step D (trained first, on every sample) is the same and G, trained on
    # D's best half of its samples, is not
    train(make_cfg([*RING, *FAST, "train.steps=1"]), tmp_path / "plain")
    a, b = (checkpoint.load(tmp_path / r / "checkpoints" / "last.pt") for r in ("run", "plain"))
    assert all(torch.equal(a["D"][k], b["D"][k]) for k in a["D"])
    assert any(not torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    with pytest.raises(ConfigError, match="loss.topk"):
        train(make_cfg([*RING, *FAST, "loss.topk=0"]), tmp_path / "bad")
