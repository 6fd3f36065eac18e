"""A finished (or running) run folder, read back for gan-sample and gan-eval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gan_cli import checkpoint
from gan_cli.errors import UserError
from gan_cli.models import build_models


def load_run(
    run_dir: str | Path, device: torch.device
) -> tuple[nn.Module, nn.Module, DictConfig, dict[str, Any]]:
    """(G for sampling, D, run config, checkpoint) from RUN_DIR/checkpoints/last.pt; G is G_ema when saved.
    Tensors are read onto the CPU first, so a run trained on a GPU loads on a CPU-only machine."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run={run_dir}: no such run folder.")
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if not ckpt_path.is_file():
        raise UserError(f"run={run_dir} has no checkpoint ({ckpt_path} is missing); train it first.")
    ckpt = checkpoint.load(ckpt_path)
    cfg = OmegaConf.create(ckpt["config"])
    G, D = build_models(cfg, tuple(ckpt["data_shape"]))
    try:
        G.load_state_dict(ckpt["G_ema"] if ckpt.get("G_ema") is not None else ckpt["G"])
        D.load_state_dict(ckpt["D"])
    except (RuntimeError, KeyError) as err:
        raise UserError(
            f"checkpoint {ckpt_path} does not match its own config: {err}".splitlines()[0]
        ) from None
    return G.to(device).eval(), D.to(device).eval(), cfg, ckpt


def raw_generator(cfg: DictConfig, ckpt: dict[str, Any], device: torch.device) -> nn.Module:
    """The run's G as trained (not its weight average), in eval mode."""
    G, _ = build_models(cfg, tuple(ckpt["data_shape"]))
    G.load_state_dict(ckpt["G"])
    return G.to(device).eval()
