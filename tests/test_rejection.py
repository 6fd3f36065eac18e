"""rejection.py: exact rejection sampling, the fitted ratio, and the commands that use it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from gan_cli import checkpoint
from gan_cli.errors import ConfigError
from gan_cli.nets import DOut
from gan_cli.rejection import fit_ratio, rejection_sample
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    make_cfg,
    mixture,
    run_cli,
)


class Identity(nn.Module):  # G(z) = z: p_g = N(0, I)
    def forward(self, z):
        return z


class ExactLogRatio(nn.Module):
    """log p_data / p_g for p_data = N(0, s^2 I), p_g = N(0, I) in 2-D: -|x|^2 (1/s^2 - 1) / 2 - 2 log s."""

    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = s

    def forward(self, x, y=None):
        return DOut(-x.pow(2).sum(1) * (1 / self.s**2 - 1) / 2 - 2 * math.log(self.s))


def test_rejection_with_the_exact_ratio_samples_p_data_exactly():
    s = 0.5
    # M = the largest log ratio (at x = 0): -2 log s; the acceptance of exact rejection sampling is 1/e^M
    kept, acceptance = rejection_sample(Identity(), (ExactLogRatio(s), -2 * math.log(s)), 2, 20_000, 0, "cpu")
    assert kept.shape == (20_000, 2)
    assert acceptance == pytest.approx(s**2, rel=0.03)
    assert kept.std(0).tolist() == pytest.approx([s, s], rel=0.03)
    assert kept.mean(0).abs().max() < 0.02
    # a threshold below the maximum keeps the centre with probability 1: too wide, as it should be
    wide, _ = rejection_sample(Identity(), (ExactLogRatio(s), 0.0), 2, 20_000, 0, "cpu")
    assert wide.std().item() > 1.05 * s
    # seeded: the same samples again, and the global RNG untouched
    state = torch.get_rng_state()
    again, _ = rejection_sample(Identity(), (ExactLogRatio(s), -2 * math.log(s)), 2, 20_000, 0, "cpu")
    assert torch.equal(again, kept) and torch.equal(torch.get_rng_state(), state)


@pytest.mark.slow
def test_fitted_ratio_prefers_the_data_and_leaves_the_rng_alone():
    data = mixture("ring")
    G = nn.Sequential(nn.Linear(2, 2))  # a Gaussian blob: most of it far from the ring's modes
    cfg = make_cfg(RING)
    state = torch.get_rng_state()
    weights, threshold = fit_ratio(G, data, cfg, 2, steps=300, batch=128, seed=0, device=torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), state)
    assert math.isfinite(threshold)
    from gan_cli.rejection import ratio_model

    D = ratio_model(cfg, (2,))
    D.load_state_dict(weights)
    with torch.no_grad():
        real = data.sample_eval(512, torch.Generator().manual_seed(1))
        fake = G(torch.randn(512, 2, generator=torch.Generator().manual_seed(2)))
        assert D(real).logits.mean() > D(fake).logits.mean() + 1.0


@pytest.mark.slow
def test_training_fits_the_sampler_and_the_commands_use_it(tmp_path):
    run = tmp_path / "run"
    train(make_cfg([*FAST, *RING, "model.pac=2", "train.rejection_steps=30"]), run)
    ckpt = checkpoint.load(run / "checkpoints" / "last.pt")
    assert ckpt["ratio_D"] is not None and math.isfinite(ckpt["ratio_threshold"])
    assert all(".B" not in k for k in ckpt["ratio_D"])  # this D has no Fourier features
    assert ckpt["ratio_D"]["net.1.linear.weight"].shape[1] == 2  # judges one sample, not pac of them
    proc = run_cli(["gan-eval", f"run={run}", "num=300"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((run / "eval.json").read_text())
    rej = result["metrics"]["rejection"]
    assert {"modes", "high_quality", "reverse_kl", "acceptance"} <= rej.keys() and 0 < rej["acceptance"] <= 1
    assert "rejection" in result["how"]
    for flag, name in (("auto", "a.npy"), ("false", "b.npy")):
        proc = run_cli(
            ["gan-sample", f"run={run}", "num=200", f"out={tmp_path / name}", f"rejection={flag}"], tmp_path
        )
        assert proc.returncode == 0, proc.stderr
        assert ("rejection sampling: kept" in proc.stdout) == (flag == "auto")
        assert np.load(tmp_path / name).shape == (200, 2)
    assert not np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


@pytest.mark.slow
def test_rejection_is_refused_where_it_does_not_apply(tmp_path):
    plain = tmp_path / "plain"
    train(make_cfg([*FAST, *RING]), plain)
    proc = run_cli(
        ["gan-sample", f"run={plain}", "num=10", f"out={tmp_path / 'x.npy'}", "rejection=true"], tmp_path
    )
    assert proc.returncode == 2 and "train.rejection_steps" in proc.stderr
    assert not (tmp_path / "x.npy").exists()
    proc = run_cli(
        ["gan-sample", f"run={plain}", "num=10", f"out={tmp_path / 'x.npy'}", "rejection=maybe"], tmp_path
    )
    assert proc.returncode == 2 and "rejection=maybe" in proc.stderr
    with pytest.raises(ConfigError, match="train.rejection_steps"):
        train(make_cfg([*FAST, "dataset=fake", "train.rejection_steps=10"]), tmp_path / "img")
    assert not (tmp_path / "img").exists()
    # a plain run's eval has no rejection entry
    assert run_cli(["gan-eval", f"run={plain}", "num=100"], cwd=tmp_path).returncode == 0
    assert "rejection" not in json.loads((plain / "eval.json").read_text())["metrics"]


@pytest.mark.slow
def test_resume_refits_the_sampler_and_stays_exact(tmp_path):
    base = [*FAST, *RING, "train.rejection_steps=20"]
    run = tmp_path / "run"
    train(make_cfg([*base, "train.steps=4"]), run)
    first = checkpoint.load(run / "checkpoints" / "last.pt")
    train(make_cfg([*base, "train.steps=8", f"resume={run}"]), tmp_path / "unused")
    second = checkpoint.load(run / "checkpoints" / "last.pt")
    assert second["step"] == 8 and second["ratio_D"] is not None
    assert not torch.equal(first["ratio_D"]["net.1.linear.weight"], second["ratio_D"]["net.1.linear.weight"])
    # the fit draws from its own generators: training itself is what an uninterrupted run would do
    whole = tmp_path / "whole"
    train(make_cfg([*FAST, *RING, "train.steps=8"]), whole)
    assert torch.equal(
        checkpoint.load(whole / "checkpoints" / "last.pt")["G"]["net.0.weight"], second["G"]["net.0.weight"]
    )
