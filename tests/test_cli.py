"""The installed commands, run in subprocesses as a new user would run them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from gan_cli import checkpoint
from tests.conftest import FAST, SMALL_DCGAN, SMALL_MLP, event_tags, read_summary, run_cli

RING = ["dataset=ring", "model=mlp", *SMALL_MLP]


def only_run_dir(root):
    dirs = [p.parent for p in root.glob("*/*/summary.json")]
    assert len(dirs) == 1, dirs
    return dirs[0]


def test_gan_train_default_layout(tmp_path):
    proc = run_cli(["gan-train", *FAST, *SMALL_DCGAN], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "outputs")  # outputs/DATE/TIME
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", run_dir.parent.name)
    assert re.fullmatch(r"\d{2}-\d{2}-\d{2}", run_dir.name)
    for name in (
        ".hydra/config.yaml",
        ".hydra/overrides.yaml",
        "checkpoints/last.pt",
        "summary.json",
        "train.log",
    ):
        assert (run_dir / name).is_file(), name
    assert list(run_dir.glob("events.out.tfevents.*"))
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["step"] == 6
    assert summary["dataset"] == "digits" and summary["loss"] == "nonsaturating"  # the defaults
    assert "loss_D" in (run_dir / "train.log").read_text()


@pytest.mark.parametrize(
    ("override", "must_say"),
    [
        ("optimizer.lr=-1", "optimizer.lr"),
        ("train.batch_size=0", "train.batch_size"),
        ("train.steps=abc", "train.steps"),
        ("train.d_steps=0", "train.d_steps"),
        ("loss=foo", "nonsaturating"),  # lists the valid options
        ("train.stpes=3", "stpes"),
    ],
)
def test_bad_input_is_one_readable_paragraph(tmp_path, override, must_say):
    proc = run_cli(["gan-train", override, "train.steps=2"], cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert must_say in proc.stderr
    assert not list(tmp_path.glob("outputs/*/*/checkpoints"))  # nothing trained


def test_unknown_option_lists_valid_ones(tmp_path):
    proc = run_cli(["gan-train", "model=resnet"], cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "dcgan" in proc.stderr and "mlp" in proc.stderr


def test_multirun_sweep_gives_four_runs_with_hparams(tmp_path):
    proc = run_cli(
        ["gan-train", "-m", "loss=lsgan,hinge", "optimizer.lr=1e-4,2e-4", *FAST, *RING], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    jobs = sorted(p.parent for p in tmp_path.glob("multirun/*/*/*/summary.json"))
    assert len(jobs) == 4
    seen = set()
    for job in jobs:
        cfg = checkpoint.load(job / "checkpoints" / "last.pt")["config"]
        seen.add((cfg["loss"]["name"], cfg["optimizer"]["lr"]))
        assert read_summary(job)["status"] == "completed"
        tags = event_tags(job)
        assert {"loss/D", "loss/G"} <= set(tags["scalars"])
        assert any("samples" in t for t in tags["images"])
        # the HPARAMS tab: hparams plugin data written in the run's own event file
        hp = tags["_acc"].PluginTagToContent("hparams")
        assert "_hparams_/session_start_info" in hp
    assert seen == {("lsgan", 1e-4), ("lsgan", 2e-4), ("hinge", 1e-4), ("hinge", 2e-4)}


def test_a_failing_sweep_job_does_not_sink_the_others(tmp_path):
    proc = run_cli(["gan-train", "-m", "optimizer.lr=-1,1e-4", *FAST, *RING], cwd=tmp_path)
    assert proc.returncode != 0  # the sweep reports that a job failed...
    assert "optimizer.lr" in proc.stderr and "Traceback" not in proc.stderr
    jobs = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("multirun/*/*/*/summary.json")}
    assert jobs["0"]["status"] == "failed" and "optimizer.lr" in jobs["0"]["error"]
    assert jobs["1"]["status"] == "completed"  # ...and the other job still ran


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for name, overrides in (("images", SMALL_DCGAN), ("points", RING)):
        proc = run_cli(["gan-train", *FAST, *overrides, f"hydra.run.dir={root / name}"], cwd=root)
        assert proc.returncode == 0, proc.stderr
        runs[name] = root / name
    return runs


def test_gan_sample_images(trained_runs, tmp_path):
    run = trained_runs["images"]
    proc = run_cli(
        ["gan-sample", f"run={run}", "num=10", f"out={tmp_path / 'x.npy'}", "seed=3"], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (10, 1, 16, 16) and x.dtype == np.float32  # the digits' configured resolution
    assert x.min() >= 0 and x.max() <= 1
    again = run_cli(
        ["gan-sample", f"run={run}", "num=10", f"out={tmp_path / 'y.npy'}", "seed=3"], cwd=tmp_path
    )
    assert again.returncode == 0 and np.array_equal(x, np.load(tmp_path / "y.npy"))  # seeded
    proc = run_cli(["gan-sample", f"run={run}", "num=16", f"out={tmp_path / 'grid.png'}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    assert Image.open(tmp_path / "grid.png").size == (4 * 18 + 2, 4 * 18 + 2)  # 4x4 grid of 16px + padding


def test_gan_sample_points(trained_runs, tmp_path):
    run = trained_runs["points"]
    proc = run_cli(["gan-sample", f"run={run}", "num=500", f"out={tmp_path / 'p.npy'}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    points = np.load(tmp_path / "p.npy")
    assert points.shape == (500, 2) and np.isfinite(points).all()
    proc = run_cli(["gan-sample", f"run={run}", "num=500", f"out={tmp_path / 'p.png'}"], cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "must_say"),
    [
        (["run=/no/such/run", "out=x.png"], "/no/such/run"),
        (["num=4", "out=x.png"], "run="),
        (["run=RUN", "num=4", "out=x.jpg"], ".png"),
        (["run=RUN", "num=zero", "out=x.png"], "num"),
    ],
)
def test_gan_sample_errors(trained_runs, tmp_path, args, must_say):
    args = [a.replace("RUN", str(trained_runs["images"])) for a in args]
    proc = run_cli(["gan-sample", *args], cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert must_say in proc.stderr


def test_an_existing_run_folder_is_refused_before_hydra_writes_into_it(trained_runs, tmp_path):
    run = trained_runs["points"]
    before = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    proc = run_cli(["gan-train", *FAST, *RING, f"hydra.run.dir={run}"], cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "already holds a run" in proc.stderr and "resume=" in proc.stderr
    assert {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()} == before  # untouched
