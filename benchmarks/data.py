"""`make bench-data`: image folders at scale (issue 20's goals), measured side by side on this machine.

1. First start: a folder of 20,000 JPEGs of 128x128 decoded at dataset.image_size=64 into an empty cache,
   with every core (dataset.decode_workers=0) and with one (=1); the time of the dataset's whole build
   (listing, decode, cache write).
2. Second start: `gan-train` on that folder, the cache filled, against `dataset=digits` at the same size,
   channels and network: seconds from launching the process to the end of its first step (the first
   log line, train.log_every=1); the median of 3 launches each, alternated.
3. Streaming: DCGAN-64 training img/s (the run's own summary, start-up excluded) with
   dataset.in_memory=false against true on the same cache; the best of 2 runs each, alternated.
4. Memory: peak resident memory (the process's ru_maxrss) on a 2 GB cache (175,000 JPEGs of 64x64): the
   DCGAN-64 training of 3. with in_memory=false and with true, and one whole epoch read through the
   streaming sampler (batch 256, no training) in a process of its own.

The JPEG folders are generated once (smooth random colour fields with noise, quality 90) and kept under
the gan-cli cache folder for later runs. Every process runs alone.

    python -m benchmarks.data [--out benchmarks/data.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from gan_cli.files import cache_dir

BIN = Path(sys.executable).parent
SMALL, LARGE = 20_000, 175_000  # JPEGs of 128x128 (the decode goal); of 64x64 (2.0 GiB decoded)
STEP_ARGS = ["model=dcgan", "recipe=none", "dataset.image_size=64", "dataset.channels=3", "train.device=cpu"]


def _write_jpegs(job: tuple[str, int, int, int]) -> None:
    from PIL import Image

    folder, start, stop, size = job
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        a = rng.uniform(0, 6, size=6)
        img = np.stack([np.sin(a[0] * xx + a[1] * yy + a[2 + c]) for c in range(3)], -1) * 100 + 128
        img = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(f"{folder}/{i:06d}.jpg", quality=90)


def jpeg_folder(n: int, size: int) -> Path:
    root = cache_dir() / "bench" / f"jpeg{size}-{n}"
    if (root / "done").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    print(f"writing {n} JPEGs of {size}x{size} to {root} (once)", flush=True)
    with get_context("fork").Pool(os.cpu_count()) as pool:
        pool.map(_write_jpegs, [(str(root), i, min(i + 1000, n), size) for i in range(0, n, 1000)])
    (root / "done").write_text("")
    return root


def first_start(folder: Path, workers: int) -> float:
    """Seconds to build the dataset from an empty cache (in this process)."""
    import torch

    from gan_cli.data import DATASETS
    from gan_cli.schema import DatasetConfig
    from tests.helpers import group_cfg

    cfg = group_cfg(DatasetConfig, "folder", root=str(folder), image_size=64, channels=3)
    cfg.decode_workers = workers
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GAN_CLI_CACHE"] = tmp
        t0 = time.perf_counter()
        data = DATASETS.build(cfg, 0, torch.device("cpu"))
        seconds = time.perf_counter() - t0
        assert len(data) == SMALL
        del data
    return seconds


def time_to_first_step(args: list[str], cwd: Path) -> float:
    """Seconds from launching gan-train to its first log line (after step 1)."""
    out = Path(tempfile.mkdtemp(dir=cwd))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "gan-train"), *args, "train.steps=1", "train.log_every=1", "train.sample_every=0"]
        + [f"hydra.run.dir={out}"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seconds = None
    for line in proc.stdout:
        if seconds is None and " step 1/1 " in line:
            seconds = time.perf_counter() - t0
    assert proc.wait() == 0 and seconds is not None, "gan-train failed"
    return seconds


def train_rate(args: list[str], cwd: Path, name: str) -> tuple[float, float]:
    """(img/s of the training loop, peak resident MB) of one gan-train process."""
    out = cwd / name
    proc = subprocess.Popen(
        [str(BIN / "gan-train"), *args, f"hydra.run.dir={out}"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    assert status == 0, f"gan-train {' '.join(args)} failed"
    summary = json.loads((out / "summary.json").read_text())
    return summary["images_per_sec"], usage.ru_maxrss / 1024


def stream_epoch(folder: Path) -> tuple[float, float, int]:
    """In a fresh process: one epoch of the streamed 64x64 set at batch 256; (GB read, peak MB, rows)."""
    code = f"""
import resource, torch
from gan_cli.data import DATASETS
from gan_cli.schema import DatasetConfig
from tests.helpers import group_cfg
cfg = group_cfg(DatasetConfig, "folder", root={str(folder)!r}, image_size=64, channels=3, in_memory="false")
data = DATASETS.build(cfg, 0, torch.device("cpu"))
n, read = len(data), 0
while read < n:
    read += len(data.next(256))
data.close()
print(n, read * 3 * 64 * 64 / 2**30, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    n, gb, peak = out.stdout.split()
    return float(gb), float(peak), int(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/data.json")
    args = parser.parse_args()
    import torch

    from gan_cli.hardware import native_bf16

    root, large = jpeg_folder(SMALL, 128), jpeg_folder(LARGE, 64)
    precision = "bf16" if native_bf16(torch.device("cpu")) else "fp32"
    result: dict = {"cpu": _cpu(), "cores": os.cpu_count(), "torch": torch.__version__}
    result["precision"] = precision

    one = min(first_start(root, 1) for _ in range(2))
    every = min(first_start(root, 0) for _ in range(2))
    result["first_start"] = {
        "images": SMALL,
        "one_core_sec": one,
        "all_cores_sec": every,
        "one_core_img_per_sec": SMALL / one,
        "all_cores_img_per_sec": SMALL / every,
        "speedup": one / every,
    }
    print(json.dumps(result["first_start"]), flush=True)

    cache = Path(tempfile.mkdtemp(prefix="gan-cli-bench-cache-"))
    os.environ["GAN_CLI_CACHE"] = str(cache)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        folder = ["dataset=folder", f"dataset.root={root}", f"train.precision={precision}"]
        time_to_first_step([*STEP_ARGS, *folder], cwd)  # decodes into the cache: the first start
        digits, cached = [], []
        for _ in range(3):
            digits.append(time_to_first_step([*STEP_ARGS, "dataset=digits", folder[-1]], cwd))
            cached.append(time_to_first_step([*STEP_ARGS, *folder], cwd))
        result["second_start"] = {
            "digits_sec": statistics.median(digits),
            "cached_folder_sec": statistics.median(cached),
            "later_by_sec": statistics.median(cached) - statistics.median(digits),
        }
        print(json.dumps(result["second_start"]), flush=True)

        train = [*STEP_ARGS, *folder, "train.steps=40", "train.log_every=10", "train.sample_every=0"]
        rates: dict[str, list[float]] = {"true": [], "false": []}
        for _ in range(2):
            for mode in rates:
                rates[mode].append(train_rate([*train, f"dataset.in_memory={mode}"], cwd, f"rate-{mode}")[0])
                shutil_rmtree(cwd / f"rate-{mode}")
        best = {mode: max(r) for mode, r in rates.items()}
        result["streaming"] = {
            "in_memory_img_per_sec": best["true"],
            "streamed_img_per_sec": best["false"],
            "ratio": best["false"] / best["true"],
            "runs": rates,
        }
        print(json.dumps(result["streaming"]), flush=True)

        big = [arg.replace(str(root), str(large)) for arg in train]
        stream_epoch(large)  # the first start (decodes into the cache)
        memory = {}
        for mode in ("false", "true"):
            memory[mode] = train_rate([*big, f"dataset.in_memory={mode}"], cwd, f"mem-{mode}")[1]
        entry = max((cache / "images").glob("folder-*/images.npy"), key=lambda p: p.stat().st_size)
        gb, epoch_peak, rows = stream_epoch(large)
        result["memory"] = {
            "cache_gb": entry.stat().st_size / 2**30,
            "images": rows,
            "streamed_training_peak_mb": memory["false"],
            "in_memory_training_peak_mb": memory["true"],
            "streamed_epoch_gb_read": gb,
            "streamed_epoch_peak_mb": epoch_peak,
        }
        print(json.dumps(result["memory"]), flush=True)
    shutil_rmtree(cache)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _cpu() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line), "?")
    return name + (" (avx512_bf16)" if "avx512_bf16" in text else " (no native bf16)")


def table(r: dict) -> str:
    f, s, st, m = r["first_start"], r["second_start"], r["streaming"], r["memory"]
    rows = [
        "| what | goal | measured |",
        "| --- | --- | --- |",
        f"| first start, {f['images']:,} JPEGs 128x128 at image_size=64 | >= 1.7x one core | "
        f"{f['speedup']:.2f}x ({f['all_cores_img_per_sec']:,.0f} vs "
        f"{f['one_core_img_per_sec']:,.0f} img/s) |",
        f"| second start: first step vs dataset=digits | <= 1 s later | "
        f"{s['later_by_sec']:+.2f} s ({s['cached_folder_sec']:.2f} vs {s['digits_sec']:.2f} s) |",
        f"| DCGAN-64 training, in_memory=false vs true | >= 90% img/s | "
        f"{100 * st['ratio']:.0f}% ({st['streamed_img_per_sec']:.0f} vs {st['in_memory_img_per_sec']:.0f}) |",
        f"| DCGAN-64 training, in_memory=false, {m['cache_gb']:.2f} GB cache | < 1.5 GB resident | "
        f"{m['streamed_training_peak_mb'] / 1024:.2f} GB (in memory: "
        f"{m['in_memory_training_peak_mb'] / 1024:.2f} GB); a whole epoch streamed: "
        f"{m['streamed_epoch_peak_mb'] / 1024:.2f} GB |",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
