"""engine/resume.py: bitwise-exact resume, the keys a resume may change, curves without duplicates."""

from __future__ import annotations

import shutil

import pytest

from gan_cli import checkpoint
from gan_cli.errors import UserError
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    assert_same,
    event_tags,
    make_cfg,
    read_summary,
)

CADENCE = ["train.device=cpu", "train.log_every=5", "train.sample_every=10", "train.ckpt_every=10"]


# The default job (DCGAN on digits at full size), and a gradient-penalty job with several D steps.
JOBS = {
    "default": [],
    "wgan-gp": ["loss=wgan-gp", "dataset=ring", "model=mlp", "train.d_steps=3"],
    # fp16: the gradient scalers' scale and growth counters are part of the exact state
    "fp16": ["train.precision=fp16", "loss=wgan-gp", "dataset=ring", "model=mlp"],
}


@pytest.mark.slow
@pytest.mark.parametrize("job", JOBS)
def test_resume_is_bitwise_exact(tmp_path, job):
    base = JOBS[job] + CADENCE
    full = tmp_path / "full"
    train(make_cfg([*base, "train.steps=40"]), full)
    part = tmp_path / "part"
    train(make_cfg([*base, "train.steps=20"]), part)
    summary = train(make_cfg([*base, "train.steps=40", f"resume={part}"]), tmp_path / "unused")
    assert summary["status"] == "completed" and summary["resumed_from"] == 20
    assert not (tmp_path / "unused").exists()  # continued in place
    a = checkpoint.load(full / "checkpoints" / "last.pt")
    b = checkpoint.load(part / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 40
    for key in ("G", "D", "G_ema", "opt_g", "opt_d", "rng", "data", "z_fixed"):
        assert key in a
    if job == "fp16":
        assert a["scalers"]["d"]["_growth_tracker"] > 0  # the scalers' live state, saved and restored
    assert_same(a, b)


@pytest.mark.slow
def test_resume_from_the_command_line_overrides(tmp_path):
    """The CLI passes its overrides: a run trained with loss=lsgan resumes as lsgan, not today's default."""
    part = tmp_path / "part"
    train(make_cfg(["loss=lsgan", "dataset=ring", "model=mlp", "train.steps=4", *CADENCE]), part)
    cfg = make_cfg([f"resume={part}", "train.steps=8"])  # what `gan-train resume=... train.steps=8` composes
    summary = train(cfg, tmp_path / "x", overrides=[f"resume={part}", "train.steps=8"])
    assert summary["step"] == 8 and summary["loss"] == "lsgan" and summary["dataset"] == "ring"


@pytest.mark.slow
@pytest.mark.parametrize(
    "change", ["model.ndf=32", "loss=hinge", "optimizer.lr=1e-3", "experiment=mnist_dcgan_lsgan"]
)
def test_resume_refuses_a_different_training(tmp_path, change):
    part = tmp_path / "part"
    train(make_cfg(["train.steps=4", "model.ngf=8", "model.ndf=8", *CADENCE]), part)
    before = (part / "checkpoints" / "last.pt").read_bytes()
    overrides = [f"resume={part}", "train.steps=8", change]
    with pytest.raises(UserError, match="cannot resume") as err:
        train(make_cfg(overrides), tmp_path / "x", overrides=overrides)
    assert change.split("=")[0] in str(err.value)
    assert (part / "checkpoints" / "last.pt").read_bytes() == before


@pytest.mark.slow
def test_resume_errors(tmp_path):
    with pytest.raises(UserError, match="no such run folder"):
        train(make_cfg([f"resume={tmp_path / 'nope'}"]), tmp_path / "x", overrides=[])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="nothing to resume"):
        train(make_cfg([f"resume={tmp_path / 'empty'}"]), tmp_path / "x", overrides=[])
    part = tmp_path / "part"
    train(make_cfg(["train.steps=4", "dataset=ring", "model=mlp", *CADENCE]), part)
    with pytest.raises(UserError, match="already at step 4"):
        train(make_cfg([f"resume={part}", "train.steps=4"]), tmp_path / "x", overrides=["train.steps=4"])


@pytest.mark.slow
def test_tensorboard_curves_continue_without_duplicates(tmp_path):
    run = tmp_path / "run"
    base = ["dataset=ring", "model=mlp", *CADENCE, "train.keep_ckpts=5"]
    train(make_cfg([*base, "train.steps=25"]), run)
    # As if the process died at step 25 with its newest checkpoint at step 10.
    shutil.copy(run / "checkpoints" / "step_000010.pt", run / "checkpoints" / "last.pt")
    train(make_cfg([*base, f"resume={run}", "train.steps=30"]), run, overrides=["train.steps=30"])
    steps = [e.step for e in event_tags(run)["_acc"].Scalars("loss/D")]
    assert steps == [5, 10, 15, 20, 25, 30]
    assert read_summary(run)["resumed_from"] == 10


@pytest.mark.slow
@pytest.mark.parametrize("job", [["model.d_norm=spectral"], [*RING, "model.d_norm=spectral", "loss=wgan-gp"]])
def test_resume_with_spectral_norm_is_bitwise_exact(tmp_path, job):
    base = [*FAST, "model.ngf=8", "model.ndf=8", *job]
    whole = tmp_path / "whole"
    train(make_cfg(base), whole)
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000003.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*base, f"resume={half}"]), tmp_path / "unused")
    assert_same(
        checkpoint.load(whole / "checkpoints" / "last.pt"), checkpoint.load(half / "checkpoints" / "last.pt")
    )
