"""engine/signals.py and the loop's stops: SIGKILL at any instant, SIGTERM/SIGINT, late signals."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from gan_cli import checkpoint
from gan_cli.train import train
from tests.helpers import (
    ENDLESS,
    FAST,
    RING_CPU,
    make_cfg,
    read_summary,
    run_cli,
    start,
    wait_for_step,
    wait_for_text,
)


@pytest.mark.slow
def test_sigkill_at_any_instant_leaves_a_loadable_checkpoint_and_resume_continues(tmp_path, processes):
    run = tmp_path / "run"
    rng = random.Random(0)
    last_step = 0
    for attempt in range(3):
        args = [*ENDLESS, "train.ckpt_every=1", "train.keep_ckpts=2"]
        args += [f"resume={run}"] if attempt else [f"hydra.run.dir={run}"]
        proc = start(args, tmp_path, processes)
        wait_for_step(run, last_step + 3, proc)  # several checkpoint writes under way
        time.sleep(rng.uniform(0.0, 0.7))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        state = checkpoint.load(run / "checkpoints" / "last.pt")  # never partial
        assert state["step"] > last_step
        last_step = state["step"]
    final = run_cli(["gan-train", f"resume={run}", f"train.steps={last_step + 5}"], cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    assert read_summary(run)["step"] == last_step + 5
    assert not list((run / "checkpoints").glob(".*"))  # temporaries of killed writers are cleaned up


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_checkpoint_and_exit_within_seconds(tmp_path, sig, code, processes):
    run = tmp_path / "run"
    proc = start([*ENDLESS, "train.ckpt_every=100000", f"hydra.run.dir={run}"], tmp_path, processes)
    wait_for_text(run / "train.log", "step 10/", proc)
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=20)
    assert time.monotonic() - sent < 10
    assert proc.returncode == code
    summary = read_summary(run)
    assert summary["status"] == "interrupted" and summary["signal"] == signal.Signals(sig).name
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    assert state["step"] == summary["step"] >= 10
    resumed = run_cli(["gan-train", f"resume={run}", f"train.steps={state['step'] + 3}"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert read_summary(run)["status"] == "completed"


@pytest.mark.slow
def test_a_signal_late_in_a_step_still_ends_with_a_checkpoint(tmp_path, monkeypatch):
    """SIGTERM arriving after the step read the stop flag (here: while samples are drawn) is handled at
    the next step, which checkpoints: an interrupted run always has a last.pt to resume from."""
    import gan_cli.engine.loop as train_module

    real_log_samples = train_module.log_samples

    def log_samples_then_sigterm(*args, **kwargs):
        real_log_samples(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(train_module, "log_samples", log_samples_then_sigterm)
    run = tmp_path / "run"
    cfg = make_cfg([*FAST, *RING_CPU, "train.steps=50", "train.sample_every=4", "train.ckpt_every=1000"])
    summary = train(cfg, run)
    assert summary["status"] == "interrupted" and summary["signal"] == "SIGTERM"
    assert summary["step"] == 5  # signalled during step 4's samples, stopped after step 5
    assert checkpoint.load(run / "checkpoints" / "last.pt")["step"] == 5
