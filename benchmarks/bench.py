"""`make bench`: gan-cli's training speed beside the plain-PyTorch reference loop, on this machine.

Each measurement runs in a fresh process (so peak memory is its own) and trains for the same number of
steps; images/s counts the real images fed to D per second of the training loop (start-up excluded),
the same way for both. The FLOP/s column counts the multiply-adds of one reference step (torch's
FlopCounterMode: convolutions and matmuls, forward and backward) times the steps per second, against
this machine's measured matmul peaks. The last lines time the whole process of the goal command.

    python -m benchmarks.bench [--quick] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

# name: (gan-train overrides, steps measured)
WORKLOADS = {
    "dcgan64 fake b64": (
        ["dataset=fake", "model=dcgan", "dataset.image_size=64", "dataset.channels=3", "train.batch_size=64"],
        40,
    ),
    # the 16x16 unconditional DCGAN on the digits (the default job before it became conditional), without
    # R1 or mode seeking, so that both loops do the same work
    "digits default job": (["recipe=none"], 300),
    "mlp grid": (["dataset=grid", "model=mlp"], 600),
}
VARIANTS = ("reference fp32", "gan-cli fp32", "gan-cli bf16")
# torch.compile (train.compile=default), measured after its compilation: the 64x64 DCGAN only
COMPILED = {"dcgan64 fake b64": "gan-cli bf16 compiled"}
GOAL = [
    "dataset=fake",
    "model=dcgan",
    "dataset.image_size=64",
    "dataset.channels=3",
    "train.batch_size=64",
    "train.steps=80",
]  # at the default precision (auto: bf16 where it is native, else fp32)


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 10, trials: int = 5) -> float:
    """Measured FLOP/s of a large square matmul in `dtype` (the practical ceiling of dense math here): the
    best of several trials, since other work on a shared machine only ever makes a trial slower."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    best = 0.0
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t0))
    return best


def _components(overrides: list[str]):
    from gan_cli.data import DATASETS
    from gan_cli.models import build_models
    from tests.conftest import make_cfg

    cfg = make_cfg([*overrides, "train.device=cpu"])
    data = DATASETS.build(cfg.dataset, 0, torch.device("cpu"))
    G, D = build_models(cfg, data.shape)
    return cfg, data, G, D


def measure_one(workload: str, variant: str) -> dict:
    """One measurement, in this (fresh) process."""
    overrides, steps = WORKLOADS[workload]
    torch.manual_seed(0)
    if variant.startswith("reference"):
        from torch.utils.flop_counter import FlopCounterMode

        from benchmarks.reference import ClassicDiscriminator, ClassicGenerator, SigmoidD, reference_steps

        cfg, data, G, D = _components(overrides)
        z_shape: tuple[int, ...] = ()
        if workload.startswith("dcgan64"):  # the example's own modules, verbatim
            G, D, z_shape = ClassicGenerator(), ClassicDiscriminator(), (1, 1)
        else:
            D = SigmoidD(D)
        bs = cfg.train.batch_size
        with FlopCounterMode(display=False) as counter:
            reference_steps(G, D, lambda: data.next(bs), cfg.model.nz, 1, z_shape)
        reference_steps(G, D, lambda: data.next(bs), cfg.model.nz, 3, z_shape)  # warm-up
        seconds = reference_steps(G, D, lambda: data.next(bs), cfg.model.nz, steps, z_shape)
        flops_per_image = counter.get_total_flops() / bs
        result = {"images_per_sec": steps * bs / seconds, "flops_per_image": flops_per_image}
    else:
        from gan_cli.train import train
        from tests.conftest import make_cfg

        precision = variant.split()[1]
        compiled = variant.endswith("compiled")
        # compiled: the first `steps` steps compile and warm up, the next `steps` are measured
        total = 2 * steps if compiled else steps
        cfg = make_cfg(
            [
                *overrides,
                "train.device=cpu",
                f"train.precision={precision}",
                f"train.steps={total}",
                f"train.log_every={steps}",
                "train.sample_every=0",
                "train.ckpt_every=0",
                f"train.compile={'default' if compiled else 'none'}",
            ]
        )
        with tempfile.TemporaryDirectory() as tmp:
            train(cfg, Path(tmp) / "run")
            # the rate logged at the last step: the training steps alone, not the final sample grid and
            # checkpoint that follow it in the same step (the reference writes neither)
            rates = logged_rates(Path(tmp) / "run")
            result = {"images_per_sec": rates[-1]}
            if compiled:  # the first interval: compilation and the first `steps` steps
                result["first_half_sec"] = steps * cfg.train.batch_size / rates[0]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def logged_rates(run: Path) -> list[float]:
    """perf/images_per_sec of each log interval (the last: after compilation, before the final samples)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    return [event.value for event in acc.Scalars("perf/images_per_sec")]


def run_isolated(
    workload: str, variant: str, module: str = "benchmarks.bench", function: str = "measure_one", *extra: str
) -> dict:
    """`function(workload, variant, *extra)` of `module` in a fresh process: its result (a dict)."""
    call = ", ".join(repr(a) for a in (workload, variant, *extra))
    code = f"import json; from {module} import {function} as f; print(json.dumps(f({call})))"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{workload} / {variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def whole_process(args: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the whole-process goal measurement")
    parser.add_argument("--out", default="benchmarks/results.json")
    parser.add_argument(
        "--official",
        default=os.environ.get("STYLEGAN2_ADA_PATH", ""),
        help="a checkout of NVlabs/stylegan2-ada-pytorch, for the StyleGAN2 rows' official networks",
    )
    args = parser.parse_args()
    if torch.cuda.is_available():  # the GPU's own suite (benchmarks/bench_cuda.py)
        from benchmarks import bench_cuda

        bench_cuda.main(["--quick"] if args.quick else [])
        return
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"measured matmul peak: fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, "
        f"bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s\n"
    )
    rows, results = [], {"peaks_gflops": {k: v / 1e9 for k, v in peaks.items()}, "workloads": {}}
    header = (
        f"{'workload':<20} {'variant':<22} {'images/s':>9} {'x ref':>6} {'GFLOP/s':>8} {'% peak':>7} "
        f"{'peak MB':>8}"
    )
    print(header + "\n" + "-" * len(header))
    for workload in WORKLOADS:
        variants = (*VARIANTS, COMPILED[workload]) if workload in COMPILED else VARIANTS
        measured = {variant: run_isolated(workload, variant) for variant in variants}
        ref = measured["reference fp32"]
        for variant, m in measured.items():
            achieved = ref["flops_per_image"] * m["images_per_sec"]  # the same math per image in all three
            peak = peaks["bf16" if "bf16" in variant else "fp32"]
            m["x_ref"] = m["images_per_sec"] / ref["images_per_sec"]
            m["gflops"] = achieved / 1e9
            m["pct_peak"] = 100 * achieved / peak
            line = (
                f"{workload:<20} {variant:<22} {m['images_per_sec']:>9.0f} {m['x_ref']:>6.2f} "
                f"{m['gflops']:>8.1f} {m['pct_peak']:>6.1f}% {m['peak_rss_mb']:>8.0f}"
            )
            print(line)
            rows.append(line)
            if "first_half_sec" in m:
                n = WORKLOADS[workload][1]
                print(f"{'':<20} (compiling + the first {n} steps: {m['first_half_sec']:.0f} s)")
        results["workloads"][workload] = measured
    if not args.quick:
        repo = Path(__file__).resolve().parents[1]
        ref_s = whole_process([sys.executable, "-m", "benchmarks.reference", "--steps", "80"], repo)
        with tempfile.TemporaryDirectory() as tmp:
            ours_s = whole_process([str(Path(sys.executable).parent / "gan-train"), *GOAL], Path(tmp))
        from gan_cli.hardware import auto_precision

        goal = {
            "precision": auto_precision(torch.device("cpu"))[0],
            "reference_sec": ref_s,
            "gan_cli_sec": ours_s,
            "ratio": ref_s / ours_s,
            "reference_images_per_sec": 80 * 64 / ref_s,
            "gan_cli_images_per_sec": 80 * 64 / ours_s,
        }
        results["goal_whole_process_80_steps"] = goal
        print("\nwhole process, 80 steps of the 64x64 DCGAN, batch 64 (start-up included):")
        print(
            f"  reference loop, fp32:        {ref_s:6.1f} s  {goal['reference_images_per_sec']:6.0f} images/s"
        )
        print(
            f"  gan-train ({goal['precision']}):"
            f"       {ours_s:6.1f} s  {goal['gan_cli_images_per_sec']:6.0f} images/s"
        )
        print(f"  ratio: {goal['ratio']:.2f}x (goal: at least 2.5x where bf16 is native, 1.2x elsewhere)")
    from benchmarks import stylegan2

    results["stylegan2"] = stylegan2.main(["--official", args.official] if args.official else [])
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfull numbers: {args.out}")


if __name__ == "__main__":
    main()
