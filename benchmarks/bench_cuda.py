"""`make bench` on a machine with a GPU: gan-cli's training speed on CUDA, in one run.

- The 64x64 DCGAN (fake data) at batch 64 and 256, each variant in a fresh process: the in-project
  plain-PyTorch reference loop (the classic example's networks and loop, batches already on the GPU), a
  DataLoader-fed loop like the classic example's own (torchvision's FakeData, 8 loader workers, the
  example's transforms), and gan-train in fp32 and bf16, eager, compiled (`train.compile=default`) and
  with the whole step as a CUDA graph (`train.cuda_graph`). gan-train's rate is the one logged over the
  second half of its steps: compilation, cuDNN's autotuning and graph capture happen in the first.
- `experiment=ring8` and the default job, whole: their training time (summary.json), and the default job's
  sample quality by gan-eval.

It writes benchmarks/results-cuda.json and benchmarks/results-cuda.md, a table that names the GPU and torch.

    python -m benchmarks.bench_cuda [--quick]     # make bench calls it when CUDA is available
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench import logged_rates, run_isolated

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DCGAN64 = ["dataset=fake", "model=dcgan", "dataset.image_size=64", "dataset.channels=3"]
WORKLOADS = {  # name: (gan-train overrides, steps measured)
    "dcgan64 fake b64": ([*DCGAN64, "train.batch_size=64"], 300),
    "dcgan64 fake b256": ([*DCGAN64, "train.batch_size=256"], 150),
}
# variant: gan-train overrides ("reference" and "classic loader" are the plain-PyTorch loops)
VARIANTS = {
    "reference fp32": None,
    "classic loader fp32": None,
    "gan-cli fp32": ["train.precision=fp32", "train.cuda_graph=false"],
    "gan-cli bf16": ["train.precision=bf16", "train.cuda_graph=false"],
    "gan-cli fp32 compiled": ["train.precision=fp32", "train.cuda_graph=false", "train.compile=default"],
    "gan-cli fp32 graph": ["train.precision=fp32", "train.cuda_graph=true"],
    "gan-cli bf16 graph": ["train.precision=bf16", "train.cuda_graph=true"],
    "gan-cli fp32 compiled graph": ["train.precision=fp32", "train.cuda_graph=true", "train.compile=default"],
}
GOALS = {"dcgan64 fake b64": 40_000, "dcgan64 fake b256": 80_000, "ring8": 15.0, "default job": 30.0}


def measure_cuda(workload: str, variant: str) -> dict:
    """One measurement on the GPU, in this (fresh) process."""
    overrides, steps = WORKLOADS[workload]
    batch = int(next(o for o in overrides if o.startswith("train.batch_size=")).split("=")[1])
    torch.manual_seed(0)
    if VARIANTS[variant] is None:
        from benchmarks.reference import loader_steps, on_device_steps

        run = loader_steps if variant.startswith("classic loader") else on_device_steps
        run(batch, 10, torch.device("cuda"))  # warm-up: cuDNN's autotuning, loader workers started
        seconds = run(batch, steps, torch.device("cuda"))
        return {"images_per_sec": steps * batch / seconds}
    from gan_cli.train import train
    from tests.conftest import make_cfg

    cfg = make_cfg(
        [
            *overrides,
            *VARIANTS[variant],
            "train.device=cuda",
            f"train.steps={2 * steps}",
            f"train.log_every={steps}",
            "train.sample_every=0",
            "train.ckpt_every=0",
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        summary = train(cfg, Path(tmp) / "run")
        rates = logged_rates(Path(tmp) / "run")
    return {
        "images_per_sec": rates[-1],
        "first_half_sec": steps * batch / rates[0],
        "graph": summary["cuda_graph"],
    }


def whole_job(args: list[str], evaluate: bool) -> dict:
    """A whole gan-train run as a user types it: its training time, and gan-eval's verdict if asked."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        subprocess.run(
            [str(BIN / "gan-train"), *args, f"hydra.run.dir={run}"], check=True, capture_output=True
        )
        result = {"wall_sec": time.perf_counter() - t0}
        summary = json.loads((run / "summary.json").read_text())
        result |= {k: summary[k] for k in ("train_time_sec", "precision", "cuda_graph", "images_per_sec")}
        if evaluate:
            subprocess.run([str(BIN / "gan-eval"), f"run={run}"], check=True, capture_output=True)
            report = json.loads((run / "eval.json").read_text())["metrics"]
            keys = (
                "precision",
                "recall",
                "is_ratio",
                "classes_present",
                "modes",
                "high_quality",
                "reverse_kl",
            )
            result["eval"] = {k: report[k] for k in keys if k in report}
    return result


def table(results: dict) -> str:
    gpu, lines = results["gpu"], []
    lines.append(f"`make bench` on {gpu}, torch {results['torch']}, {results['date']}:\n")
    lines.append("| workload | variant | images/s | x reference | goal |")
    lines.append("| --- | --- | --- | --- | --- |")
    for workload, measured in results["workloads"].items():
        ref = measured.get("reference fp32", {}).get("images_per_sec")
        for variant, m in measured.items():
            goal = f">= {GOALS[workload]:,}" if variant == best(measured) else ""
            x_ref = f"{m['images_per_sec'] / ref:.2f}x" if ref else ""
            lines.append(f"| {workload} | {variant} | {m['images_per_sec']:,.0f} | {x_ref} | {goal} |")
    for name in ("ring8", "default job"):
        job = results["jobs"].get(name)
        if job:
            note = f"gan-eval {json.dumps(job['eval'])}" if "eval" in job else ""
            lines.append(
                f"| {name} | training time (precision {job['precision']}, graph {job['cuda_graph']}) | "
                f"{job['train_time_sec']:.1f} s | {note} | <= {GOALS[name]:.0f} s |"
            )
    return "\n".join(lines) + "\n"


def best(measured: dict) -> str | None:
    """The fastest gan-cli variant (the one set beside the goal)."""
    gan_cli = {v: m for v, m in measured.items() if v.startswith("gan-cli")}
    return max(gan_cli, key=lambda v: gan_cli[v]["images_per_sec"]) if gan_cli else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the DCGAN workloads only, not the whole jobs")
    parser.add_argument("--out", default="benchmarks/results-cuda.json")
    args = parser.parse_args(argv)
    results = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "workloads": {},
        "jobs": {},
    }
    print(f"{results['gpu']}, torch {results['torch']}")
    for workload in WORKLOADS:
        results["workloads"][workload] = measured = {}
        for variant in VARIANTS:
            try:
                measured[variant] = run_isolated(workload, variant, "benchmarks.bench_cuda", "measure_cuda")
            except RuntimeError as err:  # one failing variant must not hide the others' figures
                print(err)
                continue
            print(f"{workload:<18} {variant:<28} {measured[variant]['images_per_sec']:>9.0f} images/s")
    if not args.quick:
        results["jobs"]["ring8"] = whole_job(["experiment=ring8"], evaluate=False)
        results["jobs"]["default job"] = whole_job([], evaluate=True)
        for name, job in results["jobs"].items():
            print(f"{name}: {job['train_time_sec']:.1f} s of training; {job.get('eval', '')}")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    Path(args.out).with_suffix(".md").write_text(table(results))
    print(f"\n{table(results)}\nfull numbers: {args.out}")


if __name__ == "__main__":
    main()
