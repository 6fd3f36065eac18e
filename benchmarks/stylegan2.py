"""StyleGAN2's rows of `make bench`: images/s of gan-cli's whole training step, and of one forward and
backward pass of G and D (G(z) -> D -> the sum of the logits, backward) beside the official networks of
NVlabs/stylegan2-ada-pytorch on the same inputs, in the same run, on this machine.

The official code is not part of gan-cli: give a checkout of it with --official PATH (or
$STYLEGAN2_ADA_PATH); without one its rows say so. It runs its reference ops on a CPU, in fp32 (its fp16
layers are for CUDA; num_fp16_res=0 here), fused modulation off as in its training.

    python -m benchmarks.stylegan2 [--official PATH] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

# name: (gan-train overrides, the networks' spec for the official code, batch, steps measured)
CONFIGS = {
    # the small config: experiment=stylegan2_mnist's networks on 32x32 grey images
    "small 32px": (
        ["experiment=stylegan2_mnist", "dataset=fake", "dataset.image_size=32", "dataset.channels=1"],
        dict(res=32, channels=1, z_dim=128, w_dim=128, map=2, base=512, cmax=32, arch="resnet", mbstd=4),
        32,
        12,
    ),
    # the official `auto` config at 64 px RGB (batch 32, channel_base 16384: 512 channels to 32 px)
    "auto 64px": (
        ["experiment=stylegan2", "dataset=fake", "dataset.image_size=64", "dataset.channels=3"],
        dict(res=64, channels=3, z_dim=512, w_dim=512, map=2, base=16384, cmax=512, arch="resnet", mbstd=4),
        32,
        2,
    ),
}
VARIANTS = (
    "gan-cli step fp32",
    "gan-cli step bf16",
    "gan-cli nets fp32",
    "gan-cli nets bf16",
    "official nets fp32",
)


def official_networks(spec: dict, path: str):
    sys.path.insert(0, path)
    from training.networks import Discriminator, Generator  # the official code, from the given checkout

    G = Generator(
        z_dim=spec["z_dim"],
        c_dim=0,
        w_dim=spec["w_dim"],
        img_resolution=spec["res"],
        img_channels=spec["channels"],
        mapping_kwargs=dict(num_layers=spec["map"]),
        synthesis_kwargs=dict(channel_base=spec["base"], channel_max=spec["cmax"], conv_clamp=256),
    )
    D = Discriminator(
        c_dim=0,
        img_resolution=spec["res"],
        img_channels=spec["channels"],
        architecture=spec["arch"],
        channel_base=spec["base"],
        channel_max=spec["cmax"],
        conv_clamp=256,
        epilogue_kwargs=dict(mbstd_group_size=spec["mbstd"]),
    )
    c = torch.zeros(0)
    return (lambda z: G(z, c.expand(len(z), 0))), (lambda x: D(x, c.expand(len(x), 0))), G, D


def passes(G, D, z_dim: int, batch: int, steps: int, bf16: bool) -> float:
    """Seconds of `steps` passes: G(z) -> D -> sum of the logits -> backward (after 2 warm-up passes)."""

    def one() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = D(G(torch.randn(batch, z_dim)))
        getattr(logits, "logits", logits).float().sum().backward()

    for _ in range(2):
        one()
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    return time.perf_counter() - t0


def measure_one(config: str, variant: str, official: str = "") -> dict:
    """One measurement, in this (fresh) process."""
    overrides, spec, batch, steps = CONFIGS[config]
    torch.manual_seed(0)
    bf16 = variant.endswith("bf16")
    if variant.startswith("gan-cli step"):
        import tempfile

        from benchmarks.bench import logged_rates
        from gan_cli.train import train
        from tests.conftest import make_cfg

        cfg = make_cfg(
            [*overrides, "train.device=cpu", f"train.precision={'bf16' if bf16 else 'fp32'}"]
            + [f"train.batch_size={batch}", f"train.steps={2 * steps}", f"train.log_every={steps}"]
            + ["train.sample_every=0", "train.ckpt_every=0", "train.final_eval=false"]
        )
        with tempfile.TemporaryDirectory() as tmp:
            train(cfg, Path(tmp) / "run")
            return {"images_per_sec": logged_rates(Path(tmp) / "run")[-1]}  # the second interval
    if variant.startswith("official"):
        if not official:
            return {"skipped": "no checkout of the official code (--official PATH or $STYLEGAN2_ADA_PATH)"}
        G, D, *_ = official_networks(spec, official)
    else:
        from gan_cli.models import build_models
        from tests.conftest import make_cfg

        cfg = make_cfg([*overrides, "train.augment=none"])
        G, D = build_models(cfg, (spec["channels"], spec["res"], spec["res"]))
    return {"images_per_sec": steps * batch / passes(G, D, spec["z_dim"], batch, steps, bf16)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", default=os.environ.get("STYLEGAN2_ADA_PATH", ""))
    parser.add_argument("--out", default="")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.configs.split(",")) - set(CONFIGS)
    if unknown:
        parser.error(f"--configs: unknown {sorted(unknown)}; choose from {list(CONFIGS)}")
    from benchmarks.bench import run_isolated

    results = {}
    where = args.official or "none"
    print(f"\nStyleGAN2 ({os.cpu_count()} CPUs, torch {torch.__version__}; official code: {where})")
    header = f"{'config':<12} {'variant':<20} {'images/s':>9} {'x official':>11}"
    print(header + "\n" + "-" * len(header))
    for config in args.configs.split(","):
        measured = {}
        for variant in VARIANTS:
            code_args = (config, variant, args.official)
            measured[variant] = run_isolated(
                *code_args[:2], "benchmarks.stylegan2", "measure_one", code_args[2]
            )
        ref = measured["official nets fp32"].get("images_per_sec")
        for variant, m in measured.items():
            rate = m.get("images_per_sec")
            if rate is None:
                print(f"{config:<12} {variant:<20} {'':>9} {m['skipped']}")
                continue
            x = f"{rate / ref:.2f}" if ref and "nets" in variant else ""
            m["x_official"] = rate / ref if ref and "nets" in variant else None
            print(f"{config:<12} {variant:<20} {rate:>9.1f} {x:>11}")
        results[config] = measured
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
