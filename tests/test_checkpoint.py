"""checkpoint.py: atomic saves, rotation, refusal of files carrying code, readable errors for damage."""

from __future__ import annotations

import errno
import json
import os
import random
from pathlib import Path

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import UserError
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING_CPU,
    copy_run,
    make_cfg,
    run_cli,
)


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


CADENCE = ["train.device=cpu", "train.log_every=5", "train.sample_every=10", "train.ckpt_every=10"]


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
        train(make_cfg([*FAST, *RING_CPU, "train.ckpt_every=2", "train.steps=10"]), run)
    assert "untouched" in str(err.value)
    assert checkpoint.load(run / "checkpoints" / "last.pt")["step"] == 2
    assert not list((run / "checkpoints").glob(".*"))  # no temporary file left behind


@pytest.mark.slow
def test_rotation_keeps_the_newest_checkpoints(tmp_path):
    run = tmp_path / "run"
    train(make_cfg(["dataset=ring", "model=mlp", *CADENCE, "train.steps=50", "train.keep_ckpts=2"]), run)
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["last.pt", "step_000040.pt", "step_000050.pt"]
    assert checkpoint.load(run / "checkpoints" / "last.pt")["step"] == 50
    run0 = tmp_path / "run0"
    train(make_cfg(["dataset=ring", "model=mlp", *CADENCE, "train.steps=20", "train.keep_ckpts=0"]), run0)
    assert sorted(p.name for p in (run0 / "checkpoints").iterdir()) == ["last.pt"]
