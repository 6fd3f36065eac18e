"""engine/stats.py: statistics by name, summed on the device, read as means once per interval."""

from __future__ import annotations

import math

import pytest
import torch

from gan_cli.engine.distributed import Dist
from gan_cli.engine.stats import Stats, all_finite


def test_means_since_the_last_read_then_a_fresh_start():
    stats = Stats()
    stats.add({"loss/D": torch.tensor(1.0), "loss/G": torch.tensor(4.0)})
    stats.add({"loss/D": torch.tensor(3.0), "loss/G": torch.tensor(0.0)})
    assert stats.read() == {"loss/D": 2.0, "loss/G": 2.0}
    assert stats.read() == {}  # nothing added since
    stats.add({"loss/D": torch.tensor(5.0), "loss/G": torch.tensor(1.0)})
    assert stats.read() == {"loss/D": 5.0, "loss/G": 1.0}


def test_skipped_steps_are_counted_not_averaged():
    stats = Stats()
    stats.add({"loss/D": torch.tensor(2.0)})
    stats.add(None)  # an fp16 overflow skipped this update
    assert stats.read() == {"loss/D": 2.0, "amp/skipped_steps": 1.0}


def test_every_step_must_report_the_same_names():
    stats = Stats()
    stats.add({"loss/D": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="loss/penalty"):
        stats.add({"loss/D": torch.tensor(1.0), "loss/penalty": torch.tensor(0.0)})


def test_finite_sees_a_nan_anywhere_in_the_interval():
    stats = Stats()
    stats.add({"loss/D": torch.tensor(1.0)})
    assert stats.finite()
    stats.add({"loss/D": torch.tensor(float("nan"))})
    stats.add({"loss/D": torch.tensor(1.0)})
    assert not stats.finite()
    assert math.isnan(stats.read()["loss/D"]) and stats.finite()  # read: a fresh interval
    assert all_finite({"a": 1.0}) and not all_finite({"a": float("inf")})


def test_one_process_reduces_to_itself():
    stats = Stats()
    stats.add({"loss/D": torch.tensor(3.0)})
    stats.reduce_(Dist())
    assert stats.read() == {"loss/D": 3.0}
