"""gan-eval run=RUN_DIR [num=2500] [seed=0] [split=test] [inception=PATH|none] [truncation=PSI]: a run's
metrics, written to RUN_DIR/eval.json and printed. gan-eval run=multirun/DATE/TIME (a sweep's folder):
every finished job evaluated where it has not been, and the jobs compared in the sweep's folder
(comparison.md, comparison.csv, comparison.png: gan_cli/compare.py).

The real side is the run's own training data unless split=test: then the test files of its dataset (mnist,
fashion_mnist, cifar10), which G never saw.

2-D mixtures: PacGAN's modes, high_quality and reverse_kl, and distinct (the share of samples equal to no
other). Images: Frechet distance, k-NN precision and recall (k=3), an Inception-like score and class
coverage in the features of a small classifier trained on the dataset's labels (cached per dataset); FID,
KID and the Inception Score with the 2015-12-05 Inception weights (inception=PATH, or the torch hub cache,
where the first evaluation downloads them; inception=none leaves them out). Log losses add the JSD gauge
(V(D, G) + log 4) / 2.
2-D runs trained with train.rejection_steps add the same metrics under `rejection` for the samples that
discriminator rejection sampling keeps (as gan-sample draws them).

The same metrics run during training every `train.eval_every` steps (TensorBoard, under `metrics/`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import MISSING

from gan_cli.compare import compare_sweep, is_sweep
from gan_cli.data import DATASETS
from gan_cli.errors import UserError, parse_key_values, report
from gan_cli.evaluation import evaluate
from gan_cli.files import write_json
from gan_cli.hardware import resolve_device
from gan_cli.metrics import PACGAN_SAMPLES
from gan_cli.nets.stylegan2 import set_sampling
from gan_cli.rejection import load_ratio
from gan_cli.runs import load_run, raw_generator
from gan_cli.schema import SPLIT_DATASETS
from gan_cli.tracking import save_grid

USAGE = (
    "usage: gan-eval run=RUN_DIR [num=2500] [seed=0] [split=train|test] [device=auto|cpu|cuda] "
    "[inception=PATH|none] [truncation=PSI]"
)


@dataclass
class EvalConfig:
    run: str = MISSING
    num: int = PACGAN_SAMPLES
    seed: int = 0
    device: str = "auto"
    inception: str = ""  # the Inception weights: a path, none, or "" (the hub cache; downloaded if missing)
    split: str = ""  # the real images: the run's own (""), or its dataset's train or test files
    truncation: float = 1.0  # model=stylegan2: psi toward the average w (1 = none, the published setting)


def run_eval(args: EvalConfig) -> dict[str, Any]:
    """Evaluate the run folder args.run; write its eval.json (atomically) and return the report. A sweep's
    folder (multirun/DATE/TIME): its jobs compared instead (gan_cli/compare.py)."""
    if Path(args.run).is_dir() and is_sweep(Path(args.run)):
        return compare_sweep(Path(args.run), args)
    device = resolve_device(args.device)
    G_ema, D, cfg, ckpt = load_run(args.run, device)
    set_sampling(G_ema, args.truncation)  # (refused for a G without w)
    if args.split:
        if args.split not in ("train", "test") or cfg.dataset.name not in SPLIT_DATASETS:
            raise UserError(
                f"split={args.split}: use train or test, for a run on {', '.join(SPLIT_DATASETS)} (this run "
                f"trained on dataset={cfg.dataset.name})."
            )
        cfg.dataset.split = args.split
    data = DATASETS.build(cfg.dataset, cfg.train.seed, torch.device("cpu"))
    train = None  # the images G trained on, where `data` holds others (split=test)
    if data.kind == "image" and cfg.dataset.get("split", "train") != "train":
        train_cfg = cfg.dataset.copy()
        train_cfg.split = "train"
        train = DATASETS.build(train_cfg, cfg.train.seed, torch.device("cpu")).images
    how: dict[str, str] = {}
    pairs: dict[str, torch.Tensor] = {}
    inception = args.inception or cfg.train.get("inception") or None
    ratio = load_ratio(ckpt, cfg, device)
    G = raw_generator(cfg, ckpt, device)
    set_sampling(G, args.truncation)
    results = evaluate(
        G_ema, G, D, data, cfg, device, args.num, args.seed, inception, how, ratio, train, pairs
    )
    if "copies" in pairs:  # the closest samples (top row) over their nearest training images
        save_grid(pairs["copies"], Path(args.run) / "copies.png", nrow=len(pairs["copies"]) // 2)
    report_ = {"run": str(args.run), "step": ckpt["step"], "metrics": results, "how": how}
    report_["split"] = cfg.dataset.get("split", "train")
    report_["truncation"] = args.truncation
    write_json(report_, Path(args.run) / "eval.json")  # an earlier eval.json is never half-written
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


if __name__ == "__main__":
    main()
