"""Optimizers by name; `optimizer.lr` sets both networks unless lr_g / lr_d (and betas_g / d) are set."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from gan_cli.registry import Registry

OPTIMIZERS = Registry("optimizer")


@OPTIMIZERS.register("adam")
def adam(cfg, params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    params = list(params)
    # on CUDA one fused kernel updates every tensor (the same Adam step, less launch overhead)
    fused = bool(params) and all(p.is_cuda for p in params)
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=cfg.weight_decay, fused=fused or None)


@OPTIMIZERS.register("rmsprop")
def rmsprop(
    cfg, params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(
        params, lr=lr, alpha=cfg.alpha, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )


@OPTIMIZERS.register("sgd")
def sgd(cfg, params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def base_lrs(cfg) -> tuple[float, float]:
    """(lr of G, lr of D) from the optimizer group."""
    return (cfg.lr_g if cfg.lr_g is not None else cfg.lr, cfg.lr_d if cfg.lr_d is not None else cfg.lr)


def build_optimizers(cfg, G: nn.Module, D: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(opt_g, opt_d) for `cfg` = the optimizer group."""
    make = OPTIMIZERS.get(cfg.name)
    betas_g = tuple(cfg.betas_g if cfg.betas_g is not None else cfg.betas)
    betas_d = tuple(cfg.betas_d if cfg.betas_d is not None else cfg.betas)
    lr_g, lr_d = base_lrs(cfg)
    return make(cfg, G.parameters(), lr_g, betas_g), make(cfg, D.parameters(), lr_d, betas_d)


def apply_schedule(cfg, opts: tuple[torch.optim.Optimizer, ...], step: int, steps: int) -> None:
    """Set the learning rates for `step` (1-based) of `steps`: a pure function of the step, so a resumed
    run follows the same schedule. linear: lr * (1 - (step - 1) / steps)."""
    if cfg.get("lr_decay", "none") == "none":
        return
    factor = 1.0 - (step - 1) / steps
    for opt, lr in zip(opts, base_lrs(cfg), strict=True):
        for group in opt.param_groups:
            group["lr"] = lr * factor
