"""Crash safety and hostile input, with real processes and real signals."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import UserError
from gan_cli.train import train
from tests.conftest import BIN, FAST, SMALL_MLP, make_cfg, read_summary, run_cli

RING = ["dataset=ring", "model=mlp", *SMALL_MLP, "train.device=cpu", "train.batch_size=16"]
ENDLESS = [*RING, "train.steps=1000000", "train.log_every=5", "train.sample_every=0"]


@pytest.fixture
def processes():
    """Started training processes; any still alive when the test ends (say, on a failure) is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def start(args: list[str], cwd: Path, processes: list) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [str(BIN / "gan-train"), *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    processes.append(proc)
    return proc


def wait_for_step(run: Path, step: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until a step_N.pt with N >= step exists (older ones are rotated away, so any newer one counts)."""
    deadline = time.monotonic() + timeout
    while not any(int(p.stem[5:]) >= step for p in run.glob("checkpoints/step_*.pt")):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"no checkpoint of step {step} or later appeared"
        time.sleep(0.02)


def wait_for_text(path: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text()):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)


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


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("finished")
    train(make_cfg([*FAST, *RING]), root / "run")
    return root / "run"


def copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_checkpoints_carrying_code_are_refused_and_never_run(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    marker = tmp_path / "pwned"
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    state["payload"] = Evil(marker)
    torch.save(state, run / "checkpoints" / "last.pt")
    for args in (
        ["gan-train", f"resume={run}", "train.steps=20"],
        ["gan-sample", f"run={run}", "num=4", f"out={tmp_path / 'x.png'}"],
    ):
        proc = run_cli(args, cwd=tmp_path)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert "refused" in proc.stderr and "last.pt" in proc.stderr
        assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "empty", *[f"garbage{seed}" for seed in range(6)]])
def test_corrupt_checkpoints_give_a_readable_error(finished_run, tmp_path, damage):
    run = copy_run(finished_run, tmp_path / "run")
    path = run / "checkpoints" / "last.pt"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # seeded random bytes: torch fails on these in several different ways
        path.write_bytes(random.Random(int(damage[7:])).randbytes(4096))
    for args in (
        ["gan-train", f"resume={run}", "train.steps=20"],
        ["gan-sample", f"run={run}", "num=4", f"out={tmp_path / 'x.png'}"],
    ):
        proc = run_cli(args, cwd=tmp_path)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
        assert str(path) in proc.stderr.replace("\n", "") or "last.pt" in proc.stderr
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"  # the run is untouched


def test_unusable_output_folder_is_one_paragraph(tmp_path):
    (tmp_path / "a_file").write_text("x")
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        args = [
            "gan-train",
            *(["-m"] if "sweep" in key else []),
            *FAST,
            *RING,
            f"{key}={tmp_path / 'a_file' / 'r'}",
        ]
        proc = run_cli(args, cwd=tmp_path)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert key in proc.stderr and "a_file" in proc.stderr


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    calls = {"n": 0}
    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(UserError, match="No space left on device") as err:
        train(make_cfg([*FAST, *RING, "train.ckpt_every=2", "train.steps=10"]), run)
    assert "untouched" in str(err.value)
    assert checkpoint.load(run / "checkpoints" / "last.pt")["step"] == 2
    assert not list((run / "checkpoints").glob(".*"))  # no temporary file left behind


def test_a_diverging_sweep_job_does_not_sink_the_others(tmp_path):
    diverge = "optimizer.lr=1,1e-4"
    args = [
        "gan-train",
        "-m",
        diverge,
        *FAST,
        *RING,
        "loss=wgan",
        "loss.clip=1e30",
        "optimizer=sgd",
        "optimizer.momentum=0.9",
        "train.steps=40",
        "train.log_every=1",
    ]
    proc = run_cli(args, cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    jobs = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("multirun/*/*/*/summary.json")}
    assert jobs["0"]["status"] == "diverged"
    assert jobs["1"]["status"] == "completed" and jobs["1"]["step"] == 40


def test_a_signal_late_in_a_step_still_ends_with_a_checkpoint(tmp_path, monkeypatch):
    """SIGTERM arriving after the step read the stop flag (here: while samples are drawn) is handled at
    the next step, which checkpoints: an interrupted run always has a last.pt to resume from."""
    import gan_cli.train as train_module

    real_log_samples = train_module.log_samples

    def log_samples_then_sigterm(*args, **kwargs):
        real_log_samples(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(train_module, "log_samples", log_samples_then_sigterm)
    run = tmp_path / "run"
    cfg = make_cfg([*FAST, *RING, "train.steps=50", "train.sample_every=4", "train.ckpt_every=1000"])
    summary = train(cfg, run)
    assert summary["status"] == "interrupted" and summary["signal"] == "SIGTERM"
    assert summary["step"] == 5  # signalled during step 4's samples, stopped after step 5
    assert checkpoint.load(run / "checkpoints" / "last.pt")["step"] == 5
