"""hardware.py: device choice, glibc's memory settings, the precision hint."""

from __future__ import annotations

import platform

import pytest
import torch

from gan_cli import hardware
from gan_cli.errors import ConfigError
from gan_cli.train import train
from tests.helpers import (
    FAST,
    make_cfg,
)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_accepts_the_memory_settings():
    assert hardware.keep_freed_memory()


def test_precision_hint_gives_only_advice_measured_on_that_kind_of_device(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(hardware, "native_bf16", lambda device: True)
    assert "train.precision=bf16" in hardware.precision_hint(cpu, "fp32")
    assert hardware.precision_hint(cpu, "bf16") is None
    # on the one GPU measured, bf16 was slower than fp32 with TF32: no advice to switch to it
    assert hardware.precision_hint(cuda, "fp32") is None
    assert hardware.precision_hint(cuda, "bf16") is None
    monkeypatch.setattr(hardware, "native_bf16", lambda device: False)
    assert hardware.precision_hint(cpu, "fp32") is None
    assert "emulated" in hardware.precision_hint(cpu, "bf16")


def test_auto_precision_follows_the_measurements(monkeypatch):
    monkeypatch.setattr(hardware, "native_bf16", lambda device: True)
    assert hardware.auto_precision(torch.device("cpu"))[0] == "bf16"
    assert hardware.auto_precision(torch.device("cuda"))[0] == "fp32"  # TF32 measured faster than bf16
    monkeypatch.setattr(hardware, "native_bf16", lambda device: False)
    assert hardware.auto_precision(torch.device("cpu"))[0] == "fp32"


def test_auto_precision_is_resolved_recorded_and_kept_by_a_resume(tmp_path, monkeypatch):
    """The run's saved config and summary.json say what auto chose; a resume on a machine that would
    choose otherwise keeps it."""
    from gan_cli import checkpoint

    monkeypatch.setattr(hardware, "native_bf16", lambda device: True)
    run = tmp_path / "run"
    summary = train(make_cfg([*FAST, "train.device=cpu", "train.steps=2"]), run)
    assert summary["precision"] == "bf16"
    assert checkpoint.load(run / "checkpoints" / "last.pt")["config"]["train"]["precision"] == "bf16"
    monkeypatch.setattr(hardware, "native_bf16", lambda device: False)
    summary = train(make_cfg([f"resume={run}", "train.steps=3"]), tmp_path / "ignored", ["train.steps=3"])
    assert summary["precision"] == "bf16" and summary["resumed_from"] == 2


def test_tf32_switch_sets_torchs_fp32_modes():
    before = torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision
    try:
        hardware.set_tf32(False)
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
        hardware.set_tf32(True)
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
        assert torch.backends.cudnn.conv.fp32_precision == "tf32"
    finally:
        torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision = before


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no CUDA device"):
        train(make_cfg([*FAST, "train.device=cuda"]), tmp_path / "run")


def test_auto_device_is_cuda_when_available(tmp_path):
    from gan_cli.hardware import resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"
