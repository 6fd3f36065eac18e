"""Shared fixtures (helpers live in tests/helpers.py)."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
import torch

from gan_cli.inception import FID_WEIGHTS
from tests.helpers import FAST, RING, SMALL_DCGAN, make_cfg, run_cli


@pytest.fixture(scope="session", autouse=True)
def classifier_cache(tmp_path_factory):
    """Image metrics cache their classifiers here (subprocesses too), never in the user's ~/.cache."""
    path = tmp_path_factory.mktemp("gan-cli-cache")
    old = os.environ.get("GAN_CLI_CACHE")
    os.environ["GAN_CLI_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GAN_CLI_CACHE", None)
    else:
        os.environ["GAN_CLI_CACHE"] = old


def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def no_downloads(tmp_path_factory):
    """No test reaches outside the machine: the Inception weights' URL points at a closed loopback port (a
    download fails at once, as offline), and torch's hub cache is a folder of the test session's own."""
    saved = {k: os.environ.get(k) for k in ("GAN_CLI_INCEPTION_URL", "TORCH_HOME")}
    os.environ["GAN_CLI_INCEPTION_URL"] = f"http://127.0.0.1:{closed_port()}/{FID_WEIGHTS}"
    os.environ["TORCH_HOME"] = str(tmp_path_factory.mktemp("torch-home"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def cfg_factory():
    return make_cfg


@pytest.fixture
def processes():
    """Started training processes; any still alive when the test ends (say, on a failure) is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished few-step ring run (train() in this process)."""
    from gan_cli.train import train

    root = tmp_path_factory.mktemp("finished")
    train(make_cfg([*FAST, *RING, "train.batch_size=16"]), root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """An image run and a 2-D run, each trained by the gan-train command."""
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for name, overrides in (("images", SMALL_DCGAN), ("points", RING)):
        proc = run_cli(["gan-train", *FAST, *overrides, f"hydra.run.dir={root / name}"], cwd=root)
        assert proc.returncode == 0, proc.stderr
        runs[name] = root / name
    return runs


@pytest.fixture(scope="module")
def digits8():
    """The bundled digits at their original 8x8."""
    from gan_cli.data import DATASETS

    return DATASETS.build(make_cfg(["dataset.image_size=8"]).dataset, 0, torch.device("cpu"))
