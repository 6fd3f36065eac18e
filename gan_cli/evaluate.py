"""gan-eval run=RUN_DIR [num=2500] [seed=0]: a run's metrics, written to RUN_DIR/eval.json and printed.

The same metrics run during training every `train.eval_every` steps (TensorBoard, under `metrics/`).
They draw their own samples with their own seeded generators, so evaluating never changes training (an
evaluated run stays bit-for-bit resumable).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import MISSING
from torch import nn

from gan_cli.data import DATASETS
from gan_cli.errors import UserError, parse_key_values, report
from gan_cli.metrics import PACGAN_SAMPLES, jsd_estimate, mixture_metrics
from gan_cli.nets import MODELS, generate

USAGE = "usage: gan-eval run=RUN_DIR [num=2500] [seed=0] [device=auto|cpu|cuda]"
LOG_LOSSES = ("minimax", "nonsaturating")  # losses whose D estimates a probability: the JSD gauge applies


@torch.no_grad()
def evaluate(
    G_sample: nn.Module,
    G: nn.Module,
    D: nn.Module,
    data: Any,
    cfg: Any,
    device: torch.device,
    num: int = PACGAN_SAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics for the run described by cfg: PacGAN's for 2-D mixtures, the JSD gauge for log losses."""
    results: dict[str, Any] = {}
    if data.kind == "points":
        fake = generate(G_sample, cfg.model.nz, num, seed, device)
        results.update(mixture_metrics(fake, data.centers, data.std))
    if cfg.loss.name in LOG_LOSSES:
        gen = torch.Generator().manual_seed(seed + 1)
        n = min(num, 1024)
        real = data.sample_eval(n, gen).to(device)
        fake = generate(G, cfg.model.nz, n, seed + 2, device)
        was_training = D.training
        D.eval()  # no batch-norm statistics are updated
        results["jsd_estimate"] = jsd_estimate(D(real).float(), D(fake.to(device)).float())
        D.train(was_training)
    return results


def describe(data: Any, cfg: Any, num: int, seed: int) -> dict[str, str]:
    """How each number was computed, recorded beside the numbers."""
    how = {}
    if data.kind == "points":
        how["modes, high_quality, reverse_kl"] = (
            f"PacGAN protocol (Lin et al. 2018, Table 1): {num} samples from G_ema (seed {seed}); "
            f"high quality = within 3 std ({3 * data.std:g}) of the nearest of {len(data.centers)} modes; "
            "reverse_kl = KL(mode histogram of high-quality points || uniform)"
        )
    if cfg.loss.name in LOG_LOSSES:
        how["jsd_estimate"] = (
            "(V(D, G) + log 4) / 2 with V = mean log D(x) + mean log(1 - D(G(z))) on fresh batches of up to "
            "1024 real and generated samples (G and D in eval mode); equals JSD(p_data || p_g) at D = D*"
        )
    return how


@dataclass
class EvalConfig:
    run: str = MISSING
    num: int = PACGAN_SAMPLES
    seed: int = 0
    device: str = "auto"


def run_eval(args: EvalConfig) -> dict[str, Any]:
    from gan_cli.sample import load_run
    from gan_cli.train import resolve_device

    device = resolve_device(args.device)
    G_ema, D, cfg, ckpt = load_run(args.run, device)
    if ckpt["data_kind"] != "points":
        raise UserError(
            f"run={args.run} is an image run: gan-eval computes the 2-D mixture metrics and the JSD gauge "
            "for now; image metrics (FID/KID, classifier-based precision and recall) are not implemented yet."
        )
    data = DATASETS.build(cfg.dataset, cfg.train.seed, torch.device("cpu"))
    G, _ = MODELS.build(cfg.model, tuple(ckpt["data_shape"]))
    G.load_state_dict(ckpt["G"])
    results = evaluate(G_ema, G.to(device), D, data, cfg, device, args.num, args.seed)
    report_ = {
        "run": str(args.run),
        "step": ckpt["step"],
        "metrics": results,
        "how": describe(data, cfg, args.num, args.seed),
    }
    (Path(args.run) / "eval.json").write_text(json.dumps(report_, indent=2) + "\n")
    return report_


def main(argv: list[str] | None = None) -> None:
    """Console entry `gan-eval`."""
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip() + "\n\n" + USAGE)
        return
    try:
        args: EvalConfig = parse_key_values(argv, EvalConfig, USAGE)
        if args.num < 1:
            raise UserError(f"num={args.num}: ask for at least one sample.")
        result = run_eval(args)
    except UserError as err:
        report("gan-eval", err)
        sys.exit(2)
    print(json.dumps(result, indent=2))
