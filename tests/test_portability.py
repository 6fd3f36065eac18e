"""Runs move between machines: a run trained on CUDA is sampled, evaluated and resumed on a CPU.

A CUDA run's checkpoint differs from a CPU run's in how its optimizers ran (fused and capturable Adam,
step counts and, under train.cuda_graph, the learning rate as device tensors), in its CUDA RNG state and
in the device its tensors were saved from. Two tests: one rewrites a CPU run's checkpoint the way a CUDA
run saves it (so the device-mapping path runs everywhere), one uses tests/fixtures/cuda_run, a small run
trained on a GPU by benchmarks/gpu/check.sh, when it is there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import ConfigError
from gan_cli.evaluate import EvalConfig, run_eval
from gan_cli.sample import parse, sample
from gan_cli.train import train
from tests.helpers import FAST, SMALL_DCGAN, make_cfg

FIXTURE = Path(__file__).parent / "fixtures" / "cuda_run"


def as_cuda_saves_it(run: Path, device: str = "auto") -> None:
    """Rewrite run's last.pt as a CUDA run with train.cuda_graph writes it."""
    path = run / "checkpoints" / "last.pt"
    state = checkpoint.load(path)
    for opt in ("opt_g", "opt_d"):
        for group in state[opt]["param_groups"]:
            group.update(fused=True, capturable=True, foreach=None, lr=torch.tensor(float(group["lr"])))
        for st in state[opt]["state"].values():
            st["step"] = st["step"].to(torch.float32)
    state["rng"]["cuda"] = [torch.zeros(16, dtype=torch.uint8)]  # what get_rng_state_all() holds
    state["config"]["train"]["device"] = device
    checkpoint.save(state, path)


def moves_to_the_cpu(run: Path, tmp_path: Path) -> None:
    """gan-sample, gan-eval and a resume of `run` on this CPU."""
    out = tmp_path / "x.npy"
    sample(parse([f"run={run}", "num=8", f"out={out}", "device=cpu"]))
    x = np.load(out)
    assert x.shape[0] == 8 and np.isfinite(x).all()
    report = run_eval(EvalConfig(run=str(run), device="cpu", num=64))
    assert report["metrics"]["fd_classifier"] == report["metrics"]["fd_classifier"]  # a number, not NaN
    step = checkpoint.load(run / "checkpoints" / "last.pt")["step"]
    more = [f"train.steps={step + 2}", "train.device=cpu"]
    summary = train(make_cfg([f"resume={run}", *more]), tmp_path / "unused", more)
    assert summary["status"] == "completed" and summary["resumed_from"] == step
    assert np.isfinite(summary["loss_D"]) and summary["device"] == "cpu"


def test_a_checkpoint_written_as_cuda_writes_it_moves_to_the_cpu(tmp_path):
    run = tmp_path / "run"
    train(make_cfg([*FAST, *SMALL_DCGAN]), run)
    as_cuda_saves_it(run)
    moves_to_the_cpu(run, tmp_path)
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    group = state["opt_g"]["param_groups"][0]
    assert not group["fused"] and not group["capturable"]  # saved again as this CPU ran it
    assert isinstance(group["lr"], float)


def test_a_run_asked_for_cuda_resumes_on_the_cpu_when_told_so(tmp_path):
    run = tmp_path / "run"
    train(make_cfg([*FAST, *SMALL_DCGAN]), run)
    as_cuda_saves_it(run, device="cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="train.device=cuda but no CUDA device"):
            train(make_cfg([f"resume={run}", "train.steps=8"]), tmp_path / "x", ["train.steps=8"])
    moves_to_the_cpu(run, tmp_path)  # with train.device=cpu


@pytest.mark.skipif(
    not FIXTURE.is_dir(),
    reason="no tests/fixtures/cuda_run yet: it is a run trained on a GPU. On a GPU machine, `make gpu-kit` "
    "then `LOG_DIR=DIR bash .gpu/check.sh` trains it (step 1 of benchmarks/gpu/check.sh: 40 steps of a small "
    "conditional DCGAN on the digits) into DIR/cuda_run; commit that folder as tests/fixtures/cuda_run",
)
def test_a_run_trained_on_a_gpu_moves_to_the_cpu(tmp_path):
    run = tmp_path / "cuda_run"
    shutil.copytree(FIXTURE, run)
    assert checkpoint.load(run / "checkpoints" / "last.pt")["rng"].get("cuda") is not None  # made on CUDA
    moves_to_the_cpu(run, tmp_path)
