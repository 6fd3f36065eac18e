"""gan-train (train.py) as a user runs it: the run folder, readable refusals, listed options."""

from __future__ import annotations

import re

import pytest

from tests.helpers import (
    FAST,
    SMALL_DCGAN,
    only_run_dir,
    read_summary,
    run_cli,
)


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_unknown_option_lists_valid_ones(tmp_path):
    """An option that is no model: the refusal names it and lists every model there is."""
    proc = run_cli(["gan-train", "model=nosuchnet"], cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "nosuchnet" in proc.stderr
    for name in ("dcgan", "mlp", "resnet"):
        assert name in proc.stderr
    assert not (tmp_path / "outputs").exists()  # refused before a run folder is made
