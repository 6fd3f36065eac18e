"""Shared fixtures: compose real configs into tmp_path runs, run the installed commands, read events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf

from gan_cli import schema

BIN = Path(sys.executable).parent
# Few-step settings that keep every end-to-end run to a couple of seconds on a 2-core CPU.
FAST = [
    "train.steps=6",
    "train.batch_size=16",
    "train.log_every=2",
    "train.sample_every=3",
    "train.ckpt_every=3",
    "train.num_samples=16",
    "train.device=cpu",
]
SMALL_DCGAN = ["model.ngf=8", "model.ndf=8", "model.nz=16"]
SMALL_MLP = ["model.g_hidden=32", "model.d_hidden=32", "model.nz=8"]


def make_cfg(overrides: list[str]) -> DictConfig:
    """The config `gan-train OVERRIDES` would run, composed from the installed configs."""
    schema.register_schemas()
    with initialize_config_module(version_base="1.3", config_module="gan_cli.conf"):
        return compose(config_name="config", overrides=overrides)


def group_cfg(schema_cls, name: str, **values) -> DictConfig:
    """One config group (e.g. ModelConfig) with its schema defaults, a name and the given values."""
    cfg = OmegaConf.structured(schema_cls)
    cfg.name = name
    for key, value in values.items():
        cfg[key] = value
    return cfg


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


@pytest.fixture
def cfg_factory():
    return make_cfg


def run_cli(args: list[str], cwd: Path, timeout: float = 300, env: dict | None = None):
    """Run an installed console script (gan-train, gan-sample, ...) as a user would."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def read_summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def event_tags(run_dir: Path) -> dict[str, list[str]]:
    """{'scalars': [...], 'images': [...], ...} found in the run folder's TensorBoard event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc.Tags() | {"_acc": acc}
