"""Helpers shared by the test modules: compose real configs, run the installed commands, make small data
files, compare checkpoints, drive training processes."""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf

from gan_cli import checkpoint, schema

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
# Few-step settings that keep every end-to-end run to a couple of seconds on a 2-core CPU.
FAST = [
    "train.final_eval=false",  # (tests of the final evaluation turn it on)
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
RING = ["dataset=ring", "model=mlp", *SMALL_MLP]
SCALARS = {"loss/D", "loss/G", "D/real", "D/fake", "lr/G", "lr/D", "perf/images_per_sec"}


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


def train_run(tmp_path: Path, overrides: list[str], name: str = "run") -> tuple[Path, dict]:
    """A few-step run of train() in tmp_path/name: (run folder, summary)."""
    from gan_cli.train import train

    out = tmp_path / name
    summary = train(make_cfg(FAST + overrides), out)
    return out, summary


def assert_complete_run(out: Path, steps: int = 6):
    """A finished run: its summary, checkpoint, scalars and sample grids."""
    summary = read_summary(out)
    assert summary["status"] == "completed" and summary["step"] == steps
    for key in ("loss_D", "loss_G", "images_per_sec", "wall_time_sec"):
        assert math.isfinite(summary[key])
    assert summary["images_per_sec"] > 0
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    assert state["step"] == steps and isinstance(state["step"], int)
    tags = event_tags(out)
    assert SCALARS <= set(tags["scalars"])
    assert any("samples" in tag for tag in tags["images"])
    assert list((out / "samples").glob("step_*.png"))
    return summary, state, tags


def assert_same(a, b, path="checkpoint"):
    """Every tensor equal bit for bit (NaN-safe), every other value equal, recursively."""
    assert type(a) is type(b), path
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert torch.equal(a.view(torch.uint8) if a.dtype == torch.uint8 else a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def mixture(name: str):
    """The ring or grid sampler with its config's defaults, on the CPU."""
    from gan_cli.data import DATASETS

    return DATASETS.build(make_cfg([f"dataset={name}"]).dataset, 0, torch.device("cpu"))


def write_idx(folder: Path, prefix: str, images: np.ndarray) -> None:
    """MNIST's IDX files: big-endian magic, counts, then raw bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">iiii", 2051, n, h, w) + images.tobytes()
    )
    labels = (np.arange(n) % 10).astype(np.uint8)
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 2049, n) + labels.tobytes())


def fake_mnist(root: Path, sub: str = "MNIST", n: int = 20) -> np.ndarray:
    """A tiny MNIST (or Fashion-MNIST) in torchvision's raw layout under root/sub."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    write_idx(root / sub / "raw", "train", images)
    write_idx(root / sub / "raw", "t10k", images[:5])
    return images


def two_class_folder(root: Path, n: int = 32, n_light: int | None = None) -> None:
    """A labelled image folder: class `dark` (pixels near 40) and class `light` (near 215), 8x8 grey."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, level, count in [("dark", 40, n), ("light", 215, n if n_light is None else n_light)]:
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = np.clip(level + rng.normal(0, 20, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(root / name / f"{i}.png")


def only_run_dir(root: Path) -> Path:
    dirs = [p.parent for p in root.glob("*/*/summary.json")]
    assert len(dirs) == 1, dirs
    return dirs[0]


def start(args: list[str], cwd: Path, processes: list) -> subprocess.Popen:
    """Start `gan-train ARGS` in the background (killed at the end of the test by `processes`)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [str(BIN / "gan-train"), *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    processes.append(proc)
    return proc


def wait_for_step(run: Path, step: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until a step_N.pt with N >= step exists (older ones are rotated away, so any newer one counts)."""
    deadline = time.monotonic() + timeout
    while not any(int(p.stem[5:]) >= step for p in run.glob("checkpoints/step_*.pt")):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"no checkpoint of step {step} or later appeared"
        time.sleep(0.02)


def wait_for_text(path: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text()):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)


def copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


RING_CPU = [*RING, "train.device=cpu", "train.batch_size=16"]
ENDLESS = [*RING_CPU, "train.steps=1000000", "train.log_every=5", "train.sample_every=0"]


def with_model(model_cfg: DictConfig) -> DictConfig:
    """A whole run config around one model group config (schema defaults elsewhere), for build_models."""
    from gan_cli.schema import Config

    base = {"dataset": {"name": "ring"}, "loss": {"name": "nonsaturating"}, "optimizer": {"name": "adam"}}
    return OmegaConf.merge(OmegaConf.structured(Config), base, {"model": model_cfg})


def log_mean_gauss(x: np.ndarray, centres: np.ndarray, std: float) -> np.ndarray:
    """log of (1/M) sum_m N(x; centres[m], std^2 I) for 2-D points x [N, 2], in float64 (numpy): the density
    of an equal-weight Gaussian mixture, or a Gaussian kernel density estimate, written out directly."""
    d2 = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # [N, M]
    a = -d2 / (2 * std**2)
    top = a.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(a - top).sum(axis=1))
    return lse - np.log(2 * np.pi * std**2) - np.log(len(centres))
