"""The package as a user installs it: a wheel that carries its configs, run from anywhere, and a sweep
from a clone's root with a plain (non-editable) install, whose jobs import the clone's gan_cli/."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import FAST, REPO, RING, SMALL_DCGAN, read_summary

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]


def build_wheel(tmp_path: Path) -> tuple[Path, Path]:
    """(a copy of the checkout as a user's clone, the wheel built from it)."""
    clone = tmp_path / "clone"  # build from a copy: the checkout stays clean
    clone.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, clone / name)
    shutil.copytree(REPO / "gan_cli", clone / "gan_cli", ignore=shutil.ignore_patterns("__pycache__"))
    (clone / "conf").symlink_to("gan_cli/conf")
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(clone)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("gan_cli-*.whl")
    return clone, wheel


def plain_install(tmp_path: Path, wheel: Path) -> Path:
    """A new environment with the wheel installed as a plain (non-editable) package: its python.

    Its dependencies come from this environment's site-packages through a .pth line, which adds the folder
    to sys.path without running the .pth files inside it, so this checkout's editable install stays out."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [*PIP, "install", "--no-deps", "--target", purelib, str(wheel)], check=True, capture_output=True
    )
    return python


@pytest.mark.slow
def test_wheel_ships_configs_and_runs_anywhere_and_a_sweep_runs_from_a_clone_s_root(tmp_path):
    clone, wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for config in ("config.yaml", "dataset/digits.yaml", "recipe/digits_dcgan.yaml", "loss/wgan-gp.yaml"):
        assert f"gan_cli/conf/{config}" in names, config
    for module in ("engine/loop.py", "tricks/penalty.py", "nets/heads.py"):
        assert f"gan_cli/{module}" in names, module
    python = plain_install(tmp_path, wheel)
    gan_train = [str(python), "-m", "gan_cli.train"]
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    where = subprocess.run(
        [str(python), "-c", "import gan_cli; print(gan_cli.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(tmp_path / "venv"))  # the installed copy, not the checkout
    proc = subprocess.run(
        [*gan_train, *FAST, *SMALL_DCGAN, "loss=hinge"], cwd=elsewhere, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert len(list(elsewhere.glob("outputs/*/*/checkpoints/last.pt"))) == 1
    # From the clone's root, Submitit's job processes find the clone's gan_cli/ first (the working folder
    # leads sys.path under `python -m`): it must hold the configs too.
    sweep = tmp_path / "sweep"
    args = [
        "-m",
        "hydra/launcher=submitit_local",
        "loss=lsgan,hinge",
        *FAST,
        *RING,
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run([*gan_train, *args], cwd=clone, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job, loss in (("0_loss=lsgan", "lsgan"), ("1_loss=hinge", "hinge")):  # named by what changed
        summary = read_summary(sweep / job)
        assert summary["status"] == "completed" and summary["loss"] == loss
