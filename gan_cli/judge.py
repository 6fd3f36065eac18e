"""One run judged: gan-eval's figures for a run folder, written to its eval.json (the command gan-eval,
the final evaluation at the end of training, and a sweep's comparison all call this), and the figures of an
eval.json that judged a run's last checkpoint as gan-eval does by default."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import MISSING

from gan_cli import checkpoint
from gan_cli.data import DATASETS
from gan_cli.errors import UserError
from gan_cli.evaluation import evaluate
from gan_cli.files import write_json
from gan_cli.hardware import resolve_device
from gan_cli.metrics import PACGAN_SAMPLES
from gan_cli.nets.stylegan2 import set_sampling
from gan_cli.rejection import load_ratio
from gan_cli.runs import load_run, raw_generator
from gan_cli.schema import SPLIT_DATASETS
from gan_cli.tracking import save_grid


@dataclass
class EvalConfig:
    run: str = MISSING
    num: int = PACGAN_SAMPLES
    seed: int = 0
    device: str = "auto"
    inception: str = ""  # the Inception weights: a path, none, or "" (the hub cache; downloaded if missing)
    split: str = ""  # the real images: the run's own (""), or its dataset's train or test files
    truncation: float = 1.0  # model=stylegan2: psi toward the average w (1 = none, the published setting)


def evaluate_run(args: EvalConfig) -> dict[str, Any]:
    """Evaluate the run folder args.run; write its eval.json (atomically) and return the report."""
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


def final_metrics(run_dir: Path) -> dict[str, Any] | None:
    """The metrics of the run's eval.json when it judged the run's last checkpoint as gan-eval does by
    default (the final evaluation of train.final_eval, or an earlier gan-eval), else None."""
    path, last = Path(run_dir) / "eval.json", Path(run_dir) / "checkpoints" / "last.pt"
    if not path.is_file() or not last.is_file():
        return None
    report_ = json.loads(path.read_text())
    if report_.get("step") != checkpoint.load(last)["step"] or report_.get("split", "train") != "train":
        return None
    if report_.get("truncation", 1.0) != 1.0:
        return None
    return report_.get("metrics")
