"""engine/setup.py: run folders never overwritten, requeued jobs resumed, compiled models saved plain."""

from __future__ import annotations

import shutil

import pytest
import torch

from gan_cli.errors import ConfigError, UserError
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    SMALL_MLP,
    make_cfg,
    train_run,
)


@pytest.mark.slow
def test_compile_mode_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="train.compile"):
        train(make_cfg([*RING, "train.compile=fast", "train.steps=1"]), tmp_path / "run")


@pytest.mark.slow
def test_compiled_training_saves_plain_weights_and_resumes_without_compile(tmp_path):
    run = tmp_path / "run"
    summary = train(make_cfg([*RING, "train.compile=default", "train.steps=3"]), run)
    assert summary["status"] == "completed"
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert not any("_orig_mod" in key for net in ("G", "D", "G_ema") for key in state[net])
    # compile is how, not what, is trained: a resume may turn it off
    resumed = train(
        make_cfg([*RING, "train.steps=5", f"resume={run}"]), tmp_path / "x", overrides=["train.steps=5"]
    )
    assert resumed["status"] == "completed" and resumed["resumed_from"] == 3


@pytest.mark.slow
def test_a_requeued_job_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    cfg = [*FAST, *RING, "train.steps=12", "train.ckpt_every=4"]
    train(make_cfg(cfg), run)
    # preempted after the step-8 checkpoint: that is what last.pt holds when SLURM requeues the job
    shutil.copy(run / "checkpoints" / "step_000008.pt", run / "checkpoints" / "last.pt")
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    summary = train(make_cfg(cfg), run)  # the same job, started again in the same folder
    assert summary["status"] == "completed" and summary["resumed_from"] == 8 and summary["step"] == 12
    monkeypatch.delenv("SUBMITIT_EXECUTOR")
    with pytest.raises(Exception, match="already holds a run"):
        train(make_cfg(cfg), run)  # outside submitit, an existing run is never touched


@pytest.mark.slow
def test_an_existing_run_is_never_overwritten(tmp_path):
    out, _ = train_run(tmp_path, ["dataset=ring", "model=mlp", *SMALL_MLP])
    before = (out / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(UserError, match="refusing to overwrite"):
        train_run(tmp_path, ["dataset=ring", "model=mlp", *SMALL_MLP])
    assert (out / "checkpoints" / "last.pt").read_bytes() == before


@pytest.mark.slow
def test_every_compile_mode_trains_with_a_double_backward_penalty_and_resumes(tmp_path):
    """loss=wgan-gp differentiates D's gradient (the plain D, outside the compiled modules); a compiled run
    resumes under another mode. (On a CPU reduce-overhead compiles without CUDA graphs.)"""
    run = tmp_path / "run"
    over = [*RING, "loss=wgan-gp", "train.compile=reduce-overhead", "train.steps=4", "train.log_every=2"]
    summary = train(make_cfg(over), run)
    assert summary["status"] == "completed" and summary["loss_D"] == summary["loss_D"]
    more = ["train.steps=6", "train.compile=max-autotune"]
    summary = train(make_cfg([f"resume={run}", *more]), tmp_path / "x", more)
    assert summary["status"] == "completed" and summary["resumed_from"] == 4
