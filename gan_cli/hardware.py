"""The device: which one to use (`train.device`), what it computes fast, and speed settings for it that
leave the trained numbers as they are.

- CPU (glibc): keep freed memory in the process. By default glibc hands large freed blocks back to the
  kernel and the next step faults the same pages in again, zero-filled: a 64x64 DCGAN step allocates and
  frees hundreds of MB. Measured on the development CPU (bf16, 80 steps): 509k -> 190k page faults, 10%
  faster training; resident memory sits at its high-water mark instead of breathing (still flat).
- CUDA: cuDNN autotuning (`cudnn.benchmark`, the fastest convolution algorithm per shape), TF32 tensor
  cores for fp32 (`train.tf32`) and fused Adam kernels (see gan_cli.optim).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

import torch

from gan_cli.errors import ConfigError

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when available, else CPU; asking for CUDA without it is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"train.device={name} but no CUDA device is available. Use train.device=auto or cpu."
        )
    return torch.device(name)


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory() -> bool:
    """Ask glibc to reuse freed memory instead of returning it to the kernel; False where not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and others: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = (
        (_M_MMAP_THRESHOLD, 32 << 20),  # blocks below 32 MB (glibc's maximum) come from the heap
        (_M_TRIM_THRESHOLD, 2**31 - 1),  # never shrink the heap
        (_M_TOP_PAD, 64 << 20),  # grow it 64 MB at a time
    )
    return all(mallopt(param, value) == 1 for param, value in settings)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 matmuls and convolutions in hardware (CPU: AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: do not guess
        return False


def auto_precision(device: torch.device) -> tuple[str, str]:
    """(precision, why) for `train.precision=auto`: what `make bench` measured fastest on this kind of
    device at equal sample quality (docs/performance.md).

    - CPU with AVX512-BF16 or AMX: bf16 (the 64x64 DCGAN 2.7x fp32's images/s on
      a Xeon, docs/performance.md; the default job's quality held, QUALITY.md).
    - CPU without them: fp32. bf16 is emulated there: a 2048x2048 bf16 matmul ran over 60x slower than fp32
      on an AVX2-only AMD EPYC.
    - CUDA: fp32 on TF32 tensor cores (train.tf32). On the H200 bf16 autocast trained the 64x64 DCGAN 20%
      slower than fp32 with TF32 (7,949 against 9,932 images/s at batch 64; ../shared/gpu baseline).
    """
    if device.type == "cuda":
        return "fp32", "fp32 with TF32 tensor cores measured faster than bf16 autocast on CUDA"
    if device.type == "cpu" and native_bf16(device):
        return "bf16", "this CPU computes bf16 natively (AVX512-BF16 or AMX)"
    return "fp32", f"this {device.type.upper()} has no native bf16 (emulated bf16 is slower than fp32)"


def precision_hint(device: torch.device, precision: str) -> str | None:
    """One line of advice, only where it was measured true on this kind of device; None otherwise.

    CUDA gets none: the one GPU measured (an H200) ran bf16 slower than fp32 with TF32, which `auto`
    already picks, and other GPUs may differ.
    """
    if device.type != "cpu":
        return None
    if precision == "fp32" and native_bf16(device):
        return (
            "this CPU computes bf16 natively: train.precision=bf16 (or auto, the default) is faster, "
            "2.7x on the 64x64 DCGAN, and kept the default job's sample quality (QUALITY.md)"
        )
    if precision == "bf16" and not native_bf16(device):
        return (
            "this CPU has no native bf16 (no AVX512-BF16 or AMX): bf16 is emulated and slower than fp32 "
            "here (a bf16 matmul ran over 60x slower on an AVX2-only CPU); train.precision=fp32 (or auto, "
            "the default) is faster"
        )
    return None


def set_tf32(enabled: bool) -> None:
    """fp32 matmuls and convolutions on CUDA's TF32 tensor cores (10-bit mantissa products, fp32 sums),
    or in full IEEE fp32. No effect on the CPU."""
    mode = "tf32" if enabled else "ieee"
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # torch >= 2.9; the old flags are deprecated
        torch.backends.cuda.matmul.fp32_precision = mode
        torch.backends.cudnn.conv.fp32_precision = mode
    else:
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


def configure(device: torch.device, tf32: bool = True) -> None:
    """Apply the settings above for `device` (once per process is enough; repeating is harmless)."""
    if device.type == "cpu":
        if not keep_freed_memory():
            log.debug("not glibc: freed memory goes back to the kernel (slower large allocations)")
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        set_tf32(tf32)


def free_memory(device: torch.device) -> int:
    """Bytes free on `device` now: the GPU's free memory, or the memory the kernel says is available to
    new allocations (MemAvailable: free plus reclaimable caches)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no way to tell: assume plenty
        return 1 << 62
