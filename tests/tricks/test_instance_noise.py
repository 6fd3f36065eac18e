"""tricks/instance_noise.py: the noise schedule, what D sees, and exact resume with it."""

from __future__ import annotations

import shutil

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.losses import build_loss
from gan_cli.train import train
from gan_cli.tricks import build_tricks
from tests.helpers import (
    FAST,
    RING,
    assert_same,
    make_cfg,
)


def test_instance_noise_falls_linearly_to_zero_and_reaches_d():
    from gan_cli.tricks.instance_noise import InstanceNoise, noise_std

    assert noise_std(0.5, 0.5, 1, 100) == pytest.approx(0.5)
    assert noise_std(0.5, 0.5, 26, 100) == pytest.approx(0.25)
    assert noise_std(0.5, 0.5, 51, 100) == noise_std(0.5, 0.5, 100, 100) == 0.0
    trick = InstanceNoise(0.5, 0.5, 100)
    x = torch.zeros(20_000, 2)
    assert trick.view(x, 1).std().item() == pytest.approx(0.5, rel=0.03)  # what D sees is blurred
    assert trick.view(x, 60) is x  # after the schedule: untouched, no random numbers drawn
    assert not [
        t for t in build_tricks(make_cfg(RING), build_loss(make_cfg(RING).loss)) if t.name == "instance_noise"
    ]


def test_geometric_instance_noise_halves_in_equal_steps_then_stops():
    from gan_cli.tricks.instance_noise import noise_std

    sigmas = [noise_std(0.5, 0.5, step, 100, "geometric") for step in (1, 26, 50, 51)]
    assert sigmas[0] == pytest.approx(0.5)
    assert sigmas[1] == pytest.approx(0.05)  # halfway through the schedule: a tenth (sqrt of 1/100)
    assert sigmas[2] == pytest.approx(0.5 * 0.01 ** (49 / 50))  # just above start / 100 at the end...
    assert sigmas[3] == 0.0  # ...then none
    ratios = [
        noise_std(0.5, 1.0, s + 10, 100, "geometric") / noise_std(0.5, 1.0, s, 100, "geometric")
        for s in (1, 40, 80)
    ]
    assert ratios == pytest.approx([0.01**0.1] * 3)  # the same factor every 10 steps


def test_mixed_instance_noise_gives_each_sample_its_own_log_uniform_std():
    from gan_cli.tricks.instance_noise import InstanceNoise

    trick = InstanceNoise(1.0, 0.5, 100, "mixed")
    x = torch.zeros(4000, 2)
    torch.manual_seed(0)
    seen = trick.view(x, 50)
    log_std = seen.pow(2).mean(dim=1).sqrt().log10()  # about log10 of each sample's std
    assert log_std.max() < 0.6 and log_std.min() < -1.5  # from about 1 down to about 1/100...
    assert (log_std < -1).float().mean() == pytest.approx(0.5, abs=0.08)  # ...half of them below 1/10
    assert trick.view(x, 51) is x  # none after train.instance_noise_until


@pytest.mark.slow
def test_instance_noise_changes_what_d_sees_and_resumes_exactly(tmp_path):
    base = [*FAST, *RING, "model.pac=2", "train.instance_noise=0.3", "train.instance_noise_until=1.0"]
    whole = tmp_path / "whole"
    train(make_cfg([*base, "train.steps=8"]), whole)
    plain = tmp_path / "plain"
    train(make_cfg([*FAST, *RING, "model.pac=2", "train.steps=8"]), plain)
    a = checkpoint.load(whole / "checkpoints" / "last.pt")
    b = checkpoint.load(plain / "checkpoints" / "last.pt")
    assert not torch.equal(a["D"]["D.net.1.linear.weight"], b["D"]["D.net.1.linear.weight"])
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000003.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*base, "train.steps=8", f"resume={half}"]), tmp_path / "unused")
    assert_same(a, checkpoint.load(half / "checkpoints" / "last.pt"))
