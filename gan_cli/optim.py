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


def lazy_factors(cfg) -> tuple[float, float]:
    """(c for G, c for D) of StyleGAN2's lazy-regularisation correction (optimizer.lazy_correction): a
    network whose penalty runs every N > 1 updates trains with lr * c and betas ** c, c = N / (N + 1),
    the official training loop's `mb_ratio`; 1 where it is off or the penalty runs every update. `cfg`:
    the whole run config."""
    if not cfg.optimizer.get("lazy_correction", False):
        return 1.0, 1.0
    lo = cfg.loss
    g_every = int(lo.get("pl_every", 1)) if lo.get("pl_weight", 0) > 0 else 1
    d_every = 1
    if lo.get("r1_gamma", 0) > 0:
        d_every = int(lo.r1_every)
    elif lo.name == "wgan-gp":
        d_every = int(lo.get("gp_every", 1))
    return g_every / (g_every + 1) if g_every > 1 else 1.0, d_every / (d_every + 1) if d_every > 1 else 1.0


def base_lrs(cfg, lazy: tuple[float, float] = (1.0, 1.0)) -> tuple[float, float]:
    """(lr of G, lr of D) from the optimizer group, times the lazy-regularisation factors."""
    lr_g = cfg.lr_g if cfg.lr_g is not None else cfg.lr
    lr_d = cfg.lr_d if cfg.lr_d is not None else cfg.lr
    return lr_g * lazy[0], lr_d * lazy[1]


def build_optimizers(
    cfg, G: nn.Module, D: nn.Module, lazy: tuple[float, float] = (1.0, 1.0)
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(opt_g, opt_d) for `cfg` = the optimizer group; `lazy`: lazy_factors() of the run."""
    make = OPTIMIZERS.get(cfg.name)
    betas_g = tuple(b ** lazy[0] for b in (cfg.betas_g if cfg.betas_g is not None else cfg.betas))
    betas_d = tuple(b ** lazy[1] for b in (cfg.betas_d if cfg.betas_d is not None else cfg.betas))
    lr_g, lr_d = base_lrs(cfg, lazy)
    return make(cfg, G.parameters(), lr_g, betas_g), make(cfg, D.parameters(), lr_d, betas_d)


def apply_schedule(
    cfg,
    opts: tuple[torch.optim.Optimizer, ...],
    step: int,
    steps: int,
    lazy: tuple[float, float] = (1.0, 1.0),
) -> None:
    """Set the learning rates for `step` (1-based) of `steps`: a pure function of the step, so a resumed
    run follows the same schedule. linear: lr * (1 - (step - 1) / steps)."""
    if cfg.get("lr_decay", "none") == "none":
        return
    factor = 1.0 - (step - 1) / steps
    for opt, lr in zip(opts, base_lrs(cfg, lazy), strict=True):
        for group in opt.param_groups:
            if isinstance(group["lr"], torch.Tensor):  # a captured step reads it on the device
                group["lr"].fill_(lr * factor)
            else:
                group["lr"] = lr * factor


# How an optimizer runs, not what it has learnt: these belong to the process and device that run it.
IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")


def load_optimizer(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state made on any device (a CUDA run resumed on a CPU, or the reverse):
    the saved hyperparameters and moments, with this process's implementation flags. Adam's step counts
    live on the device for fused and capturable kernels and on the CPU otherwise; a learning rate a
    CUDA graph kept on the device is saved as a tensor and comes back as a number."""
    local = [{k: g[k] for k in IMPLEMENTATION if k in g} for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, flags in zip(opt.param_groups, local, strict=True):
        group.update(flags)
        if isinstance(group["lr"], torch.Tensor):
            group["lr"] = float(group["lr"])
        on_device = bool(group.get("fused") or group.get("capturable"))
        for p in group["params"]:
            st = opt.state.get(p, {})
            if isinstance(st.get("step"), torch.Tensor):
                st["step"] = st["step"].to(p.device if on_device else "cpu", torch.float32)


def make_capturable(opt: torch.optim.Optimizer, device: torch.device, capturable: bool = True) -> None:
    """Prepare an optimizer for a step captured in a CUDA graph: step counts on the device
    (`capturable`, CUDA only) and the learning rate as a device tensor, which a schedule refills."""
    for group in opt.param_groups:
        if capturable:
            group["capturable"] = True
        group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float32, device=device)
        for p in group["params"]:
            st = opt.state.get(p, {})
            if capturable and isinstance(st.get("step"), torch.Tensor):
                st["step"] = st["step"].to(p.device, torch.float32)
