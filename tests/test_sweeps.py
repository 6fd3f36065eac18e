"""sweeps.py and multirun: Hydra sweeps, Optuna, Submitit, and jobs that fail or diverge alone."""

from __future__ import annotations

import json

import pytest
import yaml

from gan_cli import checkpoint, sweeps
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    RING_CPU,
    event_tags,
    make_cfg,
    read_summary,
    run_cli,
)


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_failing_sweep_job_does_not_sink_the_others(tmp_path):
    proc = run_cli(["gan-train", "-m", "optimizer.lr=-1,1e-4", *FAST, *RING], cwd=tmp_path)
    assert proc.returncode != 0  # the sweep reports that a job failed...
    assert "optimizer.lr" in proc.stderr and "Traceback" not in proc.stderr
    jobs = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("multirun/*/*/*/summary.json")}
    assert (
        jobs["0_optimizer.lr=-1"]["status"] == "failed"
        and "optimizer.lr" in jobs["0_optimizer.lr=-1"]["error"]
    )
    assert jobs["1_optimizer.lr=0.0001"]["status"] == "completed"  # ...and the other job still ran


@pytest.mark.slow
def test_a_diverging_sweep_job_does_not_sink_the_others(tmp_path):
    diverge = "optimizer.lr=1,1e-4"
    args = [
        "gan-train",
        "-m",
        diverge,
        *FAST,
        *RING_CPU,
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
    assert jobs["0_optimizer.lr=1"]["status"] == "diverged"
    assert (
        jobs["1_optimizer.lr=0.0001"]["status"] == "completed" and jobs["1_optimizer.lr=0.0001"]["step"] == 40
    )


@pytest.mark.slow
def test_optuna_search_with_a_diverging_trial(tmp_path):
    sweep = tmp_path / "sweep"
    args = [
        "gan-train",
        "-m",
        "hparams_search=optuna",
        *FAST,
        *RING,
        "train.steps=30",
        "train.log_every=1",
        "hydra.sweeper.n_trials=4",
        # a search space with a learning rate that diverges (WGAN, unclipped, SGD with momentum)
        "optimizer.lr=choice(1.0,1e-4)",  # the command line narrows the preset's search space
        "loss=wgan",
        "train.d_steps=1",
        "loss.clip=1e30",
        "optimizer=sgd",
        "optimizer.momentum=0.9",
        f"hydra.sweep.dir={sweep}",
    ]
    proc = run_cli(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["name"] == "optuna" and 0.0 <= results["best_value"] <= 1.0
    assert results["best_params"]["optimizer.lr"] == 1e-4
    statuses = {read_summary(p.parent)["status"] for p in sweep.glob("*/summary.json")}
    assert statuses == {"completed", "diverged"}  # both were tried; the diverged one failed, not NaN
    assert "Failed experiment" in proc.stderr or "Failed experiment" in proc.stdout


@pytest.mark.slow
def test_objective_names_a_metric(tmp_path):
    summary = {"status": "completed"}
    run = tmp_path / "run"
    train(make_cfg([*FAST, *RING]), run)
    assert 0.0 <= sweeps.objective_value("high_quality", summary, run) <= 1.0
    assert sweeps.objective_value("auto", {"status": "diverged"}, run) is None
    with pytest.raises(Exception, match="not a metric"):
        sweeps.objective_value("fid", summary, run)


@pytest.mark.slow
def test_submitit_local_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["gan-train", "-m", "hydra/launcher=submitit_local", "loss=lsgan,hinge", *FAST, *RING]
    proc = run_cli([*args, f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job, loss in (("0_loss=lsgan", "lsgan"), ("1_loss=hinge", "hinge")):
        summary = read_summary(sweep / job)
        assert summary["status"] == "completed" and summary["loss"] == loss
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))  # really ran through submitit


def test_missing_sweep_plugin_is_one_paragraph(monkeypatch, capsys):
    monkeypatch.setitem(sweeps.PLUGINS, "hparams_search=optuna", "no_such_plugin_module")
    with pytest.raises(SystemExit) as exit_:
        sweeps.check_plugins(["-m", "hparams_search=optuna"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "pip install 'gan-cli[sweep]'" in " ".join(err.split()) and "Traceback" not in err


@pytest.mark.slow
def test_slurm_defaults_compose(tmp_path):
    proc = run_cli(
        ["gan-train", "hydra/launcher=submitit_slurm", "--cfg", "hydra", "-p", "hydra.launcher"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    launcher = yaml.safe_load(proc.stdout)
    assert launcher["max_num_timeout"] == 3 and launcher["gpus_per_node"] == 1
    assert launcher["_target_"].endswith("SlurmLauncher") and "validated against" not in proc.stderr
    json.dumps(launcher)
