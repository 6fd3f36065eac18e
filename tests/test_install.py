"""TODO"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.helpers import (
    FAST,
    REPO,
    SMALL_DCGAN,
)


@pytest.mark.slow
def test_wheel_ships_configs_and_runs_anywhere(tmp_path):
    src = tmp_path / "src"  # build from a copy: the checkout stays clean
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("conf", "gan_cli"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("gan_cli-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for config in (
        "config.yaml",
        "dataset/digits.yaml",
        "loss/wgan-gp.yaml",
        "experiment/mnist_dcgan_lsgan.yaml",
    ):
        assert f"gan_cli/conf/{config}" in names, config
    site = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True
    )
    shutil.rmtree(src)  # nothing may come from the source tree

    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import gan_cli; print(gan_cli.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(site))  # the installed copy, not the checkout
    proc = subprocess.run(
        [str(site / "bin" / "gan-train"), *FAST, *SMALL_DCGAN, "loss=hinge"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(list(elsewhere.glob("outputs/*/*/checkpoints/last.pt"))) == 1
