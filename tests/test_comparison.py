"""Sweeps you can read, end to end on a tiny 2x2 sweep: job folders named by what the sweep varies,
TensorBoard's HParams data (the command line's keys, the main choices, the final evaluation's figures)
read back from the event files, `gan-eval run=SWEEP`'s comparison files (rows, statuses, order, the sheet's
size), and a named job folder resumed."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from gan_cli.compare import LABEL_WIDTH, ROW_SAMPLES
from gan_cli.schema import JOB_NAME_MAX, job_dir_name
from tests.helpers import FAST, RING, event_tags, read_summary, run_cli

WITH_EVAL = [a for a in FAST if not a.startswith("train.final_eval")]  # the final evaluation on


def hparams_of(run: Path) -> tuple[dict, list[str]]:
    """(the hparams of the run's session, the metric tags of its experiment) from its event files."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = event_tags(run)["_acc"].PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    values = {}
    for key, value in start.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        values[key] = getattr(value, kind)
    return values, [m.name.tag for m in exp.experiment.metric_infos]


def test_job_names_are_legal_everywhere_and_bounded():
    assert job_dir_name(0, "loss=hinge,optimizer.lr=0.0001") == "0_loss=hinge,optimizer.lr=0.0001"
    assert job_dir_name(3, "dataset.root=/data/x:y,a=b?c") == "3_dataset.root=-data-x-y,a=b-c"
    assert job_dir_name(7, "") == "7"
    long_a = job_dir_name(1, "model.nz=" + "9" * 300 + ",x=1")
    long_b = job_dir_name(1, "model.nz=" + "9" * 300 + ",x=2")
    assert len(long_a) <= JOB_NAME_MAX and long_a != long_b  # cut, and told apart by the hash


@pytest.mark.slow
def test_a_2x2_sweep_is_named_logged_and_compared(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["gan-train", "-m", "loss=lsgan,hinge", "optimizer.lr=-1,1e-3", *WITH_EVAL, *RING]
    proc = run_cli([*args, "train.steps=30", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode != 0  # two jobs fail (a negative learning rate); the others run
    names = sorted(p.name for p in sweep.iterdir() if (p / ".hydra").is_dir())
    assert names == [
        "0_loss=lsgan,optimizer.lr=-1",
        "1_loss=lsgan,optimizer.lr=0.001",
        "2_loss=hinge,optimizer.lr=-1",
        "3_loss=hinge,optimizer.lr=0.001",
    ]  # named by what the sweep varies, the job number first
    good = sweep / "3_loss=hinge,optimizer.lr=0.001"
    assert read_summary(good)["status"] == "completed"
    # HParams: the command line's keys, then the main choices; metrics: the final evaluation and losses
    values, metrics = hparams_of(good)
    assert values["loss"] == "hinge" and values["optimizer.lr"] == pytest.approx(1e-3)
    assert values["model"] == "mlp" and values["dataset"] == "ring" and values["train.steps"] == 30
    assert "dataset.channels" not in values  # not the whole config
    assert {"eval/modes", "eval/high_quality", "eval/reverse_kl", "loss/D", "loss/G"} <= set(metrics)
    final = json.loads((good / "eval.json").read_text())["metrics"]
    scalars = event_tags(good)["_acc"]
    assert scalars.Scalars("eval/high_quality")[-1].value == pytest.approx(final["high_quality"])
    assert scalars.Scalars("eval/modes")[-1].step == 30

    # a job still running (no summary yet) is listed as such
    (sweep / "4_loss=ragan,optimizer.lr=0.001" / ".hydra").mkdir(parents=True)
    before = (good / "eval.json").stat().st_mtime_ns
    res = run_cli(["gan-eval", f"run={sweep}", "device=cpu"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (good / "eval.json").stat().st_mtime_ns == before  # already evaluated: not again
    rows = list(csv.DictReader((sweep / "comparison.csv").open()))
    assert [r["job"] for r in rows][:2] in (["1", "3"], ["3", "1"])  # the completed jobs, best first
    status = {r["job"]: r["status"] for r in rows}
    assert status == {"0": "failed", "1": "completed", "2": "failed", "3": "completed", "4": "running"}
    failed = next(r for r in rows if r["job"] == "0")
    assert "optimizer.lr" in failed["error"] and failed["loss"] == "lsgan" and failed["optimizer.lr"] == "-1"
    hq = [float(r["high_quality"]) for r in rows[:2]]
    assert hq == sorted(hq, reverse=True) and math.isfinite(float(rows[0]["minutes"]))
    md = (sweep / "comparison.md").read_text()
    assert "sorted by `high_quality`" in md and md.count("\n| ") == 7  # header, rule and 5 jobs
    sheet = Image.open(sweep / "comparison.png")
    assert sheet.height == 5 * 128 and sheet.width >= LABEL_WIDTH + 128

    # a named job folder resumes as it is typed (Hydra's grammar reads = and , as syntax)
    res = run_cli(["gan-train", f"resume={good}", "train.steps=40"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert read_summary(good)["step"] == 40


@pytest.mark.slow
def test_an_image_sweep_compares_samples_from_the_same_latents(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["gan-train", "-m", "optimizer.lr=1e-4,2e-4", *WITH_EVAL, "recipe=none"]
    args += ["model.ngf=8", "model.ndf=8", "model.nz=16", f"hydra.sweep.dir={sweep}"]
    proc = run_cli(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    job = sweep / "0_optimizer.lr=0.0001"
    values, metrics = hparams_of(job)
    assert {"eval/precision", "eval/recall", "eval/fd_classifier", "eval/is_ratio"} <= set(metrics)
    final = json.loads((job / "eval.json").read_text())["metrics"]
    assert event_tags(job)["_acc"].Scalars("eval/precision")[-1].value == pytest.approx(final["precision"])
    res = run_cli(["gan-eval", f"run={sweep}", "device=cpu"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader((sweep / "comparison.csv").open()))
    assert len(rows) == 2 and all(r["fd_classifier"] for r in rows)
    fd = [float(r["fd_classifier"]) for r in rows]
    assert fd == sorted(fd)  # the default order for images: classifier Frechet distance, lower first
    sheet = Image.open(sweep / "comparison.png")
    assert sheet.height == 2 * 128
    # 8 digits of 16 px in a strip scaled to 128 px high: 8 * 18 + 2 px of grid, times 128 / 20
    assert sheet.width == LABEL_WIDTH + round((ROW_SAMPLES * 18 + 2) * 128 / 20)


def test_hparams_show_list_and_group_overrides_as_written():
    """A list-valued key on the command line (optimizer.betas=[0.5,0.999]) is an hparam like any other; a
    group shows its option's name."""
    from types import SimpleNamespace

    from gan_cli.engine.loop import hparams_of as hparams_of_run
    from tests.helpers import make_cfg

    overrides = ["optimizer.betas=[0.5,0.999]", "loss=hinge", "train.steps=7"]
    run = SimpleNamespace(cfg=make_cfg([*RING, *overrides]), overrides=overrides)
    values = hparams_of_run(run)
    assert values["optimizer.betas"] == "[0.5, 0.999]"
    assert values["loss"] == "hinge" and values["train.steps"] == 7
