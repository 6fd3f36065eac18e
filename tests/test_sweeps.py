"""Sweeps on Hydra's engines (the gan-cli[sweep] extra): Optuna search, the Submitit launcher (locally),
and the auto-resume of a job that SLURM requeued."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from gan_cli import sweeps
from gan_cli.train import train
from tests.conftest import FAST, SMALL_MLP, make_cfg, read_summary, run_cli

pytestmark = pytest.mark.slow
RING = ["dataset=ring", "model=mlp", *SMALL_MLP]


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


def test_objective_names_a_metric(tmp_path):
    summary = {"status": "completed"}
    run = tmp_path / "run"
    train(make_cfg([*FAST, *RING]), run)
    assert 0.0 <= sweeps.objective_value("high_quality", summary, run) <= 1.0
    assert sweeps.objective_value("auto", {"status": "diverged"}, run) is None
    with pytest.raises(Exception, match="not a metric"):
        sweeps.objective_value("fid", summary, run)


def test_submitit_local_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["gan-train", "-m", "hydra/launcher=submitit_local", "loss=lsgan,hinge", *FAST, *RING]
    proc = run_cli([*args, f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job, loss in (("0", "lsgan"), ("1", "hinge")):
        summary = read_summary(sweep / job)
        assert summary["status"] == "completed" and summary["loss"] == loss
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))  # really ran through submitit


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


def test_missing_sweep_plugin_is_one_paragraph(monkeypatch, capsys):
    monkeypatch.setitem(sweeps.PLUGINS, "hparams_search=optuna", "no_such_plugin_module")
    with pytest.raises(SystemExit) as exit_:
        sweeps.check_plugins(["-m", "hparams_search=optuna"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "pip install 'gan-cli[sweep]'" in " ".join(err.split()) and "Traceback" not in err


def test_slurm_defaults_compose(tmp_path):
    proc = run_cli(
        ["gan-train", "hydra/launcher=submitit_slurm", "--cfg", "hydra", "-p", "hydra.launcher"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    launcher = yaml.safe_load(proc.stdout)
    assert launcher["max_num_timeout"] == 3 and launcher["gpus_per_node"] == 1
    assert launcher["_target_"].endswith("SlurmLauncher") and "validated against" not in proc.stderr
    json.dumps(launcher)
