"""tricks/drift.py: ProGAN's drift term against a known value, and a run with it (the docs' example)."""

from __future__ import annotations

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import ConfigError
from gan_cli.nets import DOut
from gan_cli.train import train
from gan_cli.tricks import Batch
from gan_cli.tricks.drift import Drift
from tests.helpers import FAST, RING, event_tags, make_cfg


def test_drift_is_its_weight_times_the_mean_square_of_d_on_real_data():
    b = Batch(1, 0, torch.zeros(3, 2), None, torch.zeros(3, 2), real_out=DOut(torch.tensor([1.0, -2.0, 3.0])))
    term = Drift(0.01).d_terms(b, None)["loss/drift"]
    assert term.value.item() == pytest.approx(14 / 3) and term.loss.item() == pytest.approx(0.01 * 14 / 3)


@pytest.mark.slow
def test_a_run_with_drift_logs_it_and_trains_another_d(tmp_path):
    base = [*FAST, *RING, "loss=wgan-gp"]
    train(make_cfg([*base, "loss.drift=0.1"]), tmp_path / "drift")
    train(make_cfg(base), tmp_path / "plain")
    assert "loss/drift" in event_tags(tmp_path / "drift")["scalars"]
    assert "loss/drift" not in event_tags(tmp_path / "plain")["scalars"]
    a, b = (checkpoint.load(tmp_path / r / "checkpoints" / "last.pt")["D"] for r in ("drift", "plain"))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match="loss.drift"):
        train(make_cfg([*base, "loss.drift=-1"]), tmp_path / "bad")
