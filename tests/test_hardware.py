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


def test_precision_hint_only_for_fp32_on_native_bf16_hardware(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(hardware, "native_bf16", lambda device: True)
    assert "train.precision=bf16" in hardware.precision_hint(cpu, "fp32")
    assert hardware.precision_hint(cpu, "bf16") is None
    monkeypatch.setattr(hardware, "native_bf16", lambda device: False)
    assert hardware.precision_hint(cpu, "fp32") is None


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no CUDA device"):
        train(make_cfg([*FAST, "train.device=cuda"]), tmp_path / "run")


def test_auto_device_is_cuda_when_available(tmp_path):
    from gan_cli.hardware import resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"
