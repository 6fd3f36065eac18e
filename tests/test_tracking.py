"""tracking.py: what a run shows (the 2-D heat map with D - D*)."""

from __future__ import annotations

import pytest

from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    event_tags,
    make_cfg,
)


@pytest.mark.slow
def test_heat_map_shows_d_minus_dstar_for_log_losses(tmp_path):
    out = tmp_path / "ns"
    train(make_cfg([*FAST, *RING]), out)
    assert "metrics/d_vs_dstar" in event_tags(out)["scalars"]
    value = event_tags(out)["_acc"].Scalars("metrics/d_vs_dstar")[-1].value
    assert 0.0 <= value <= 1.0
    hinge = tmp_path / "hinge"
    train(make_cfg([*FAST, *RING, "loss=hinge"]), hinge)
    assert "metrics/d_vs_dstar" not in event_tags(hinge)["scalars"]
