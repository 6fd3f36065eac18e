"""The speed levers of issue 5 that are options or automatic: torch.compile, glibc's memory reuse."""

from __future__ import annotations

import platform

import pytest
import torch

from gan_cli import hardware
from gan_cli.errors import ConfigError
from gan_cli.train import train
from tests.conftest import SMALL_MLP, make_cfg

RING = [
    "dataset=ring",
    "model=mlp",
    *SMALL_MLP,
    "train.device=cpu",
    "train.log_every=1",
    "train.sample_every=0",
]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_accepts_the_memory_settings():
    assert hardware.keep_freed_memory()


def test_compile_mode_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="train.compile"):
        train(make_cfg([*RING, "train.compile=fast", "train.steps=1"]), tmp_path / "run")


@pytest.mark.slow
def test_compiled_training_saves_plain_weights_and_resumes_without_compile(tmp_path):
    run = tmp_path / "run"
    summary = train(make_cfg([*RING, "train.compile=default", "train.steps=3"]), run)
    assert summary["status"] == "completed"
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert not any("_orig_mod" in key for net in ("G", "D", "G_ema") for key in state[net])
    # compile is how, not what, is trained: a resume may turn it off
    resumed = train(
        make_cfg([*RING, "train.steps=5", f"resume={run}"]), tmp_path / "x", overrides=["train.steps=5"]
    )
    assert resumed["status"] == "completed" and resumed["resumed_from"] == 3


def test_precision_hint_only_for_fp32_on_native_bf16_hardware(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(hardware, "native_bf16", lambda device: True)
    assert "train.precision=bf16" in hardware.precision_hint(cpu, "fp32")
    assert hardware.precision_hint(cpu, "bf16") is None
    monkeypatch.setattr(hardware, "native_bf16", lambda device: False)
    assert hardware.precision_hint(cpu, "fp32") is None
