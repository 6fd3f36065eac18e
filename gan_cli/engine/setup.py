"""Everything before the first step: which run this is (new, resumed, requeued), the device, and the
components, all built by name from the registries."""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from gan_cli import checkpoint, hardware, schema
from gan_cli.data import DATASETS
from gan_cli.ema import make_ema
from gan_cli.engine.distributed import Dist, ddp_kwargs
from gan_cli.engine.resume import resume_config
from gan_cli.errors import ConfigError, UserError
from gan_cli.losses import GANLoss, build_loss
from gan_cli.models import build_models
from gan_cli.nets import latent
from gan_cli.optim import build_optimizers, lazy_factors
from gan_cli.precision import Precision
from gan_cli.tricks import Trick, build_tricks

log = logging.getLogger("gan_cli.train")


@dataclass
class Run(checkpoint.Training):
    """The training state (what a checkpoint saves) and what the step uses with it (not saved)."""

    cfg: DictConfig | None = None
    device: torch.device = torch.device("cpu")
    d: Dist = field(default_factory=Dist)
    out_dir: Path = Path(".")
    start: int = 0  # the step training starts after (0, or the resumed checkpoint's)
    resumed: bool = False
    loss: GANLoss | None = None
    tricks: list[Trick] = field(default_factory=list)
    # What the step calls instead of G and D, sharing their parameters: the data-parallel wrappers and/or
    # torch.compile's modules. D_frozen is the D of G's update (never a DDP wrapper).
    G_train: nn.Module | None = None
    D_train: nn.Module | None = None
    D_frozen: nn.Module | None = None
    saved_config: dict = field(default_factory=dict)  # what checkpoints record (resolved, resume: None)
    overrides: list[str] = field(default_factory=list)  # the command line's (TensorBoard's hparams)
    graph: Any = None  # the step's updates as a replayed CUDA graph (engine/graphs.py), or None
    mark_steps: bool = False  # tell torch.compile's CUDA graphs where each step begins


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def resolve_run(
    cfg: DictConfig, out_dir: str | Path, overrides: list[str] | None, d: Dist
) -> tuple[DictConfig, dict[str, Any] | None, Path]:
    """(config to train with, checkpoint to continue from or None, run folder), all checked."""
    if not cfg.resume and checkpoint.requeued(out_dir):  # submitit requeued this job: continue it
        log.warning("%s holds this job's checkpoint (requeued by submitit): resuming from it", out_dir)
        cfg, overrides = OmegaConf.merge(cfg, {"resume": str(out_dir)}), None
    resumed = None
    if cfg.resume:
        cfg, resumed, out_dir = resume_config(cfg, overrides)
    schema.check(cfg)
    out_dir, tc = Path(out_dir), cfg.train
    if d.main and resumed is None:
        checkpoint.refuse_existing_run(out_dir)
    start = resumed["step"] if resumed else 0
    if start >= tc.steps:
        raise UserError(
            f"{out_dir} is already at step {start}; ask for more with train.steps=N (N > {start})."
        )
    if d.active and tc.world_size not in (1, d.world):
        raise ConfigError(
            f"train.world_size={tc.world_size} but this process is one of {d.world} ranks (torchrun); "
            "leave train.world_size at 1 under torchrun, or start gan-train alone."
        )
    return cfg, resumed, out_dir


def prepare_process(cfg: DictConfig, out_dir: Path, d: Dist) -> torch.device:
    """The device, its speed settings, the run folder, torch's threads and the seeds."""
    tc = cfg.train
    device = hardware.resolve_device(tc.device)
    if d.active and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
    hardware.configure(device, tc.tf32)
    if d.main:
        ckpt_dir = out_dir / "checkpoints"
        try:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"cannot create the run folder {ckpt_dir}: {err}.") from None
        checkpoint.remove_stale_temporaries(ckpt_dir)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    elif d.spawned and device.type == "cpu":  # the ranks share the machine's cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // d.world))
    seed_everything(tc.seed)
    return device


def build_run(
    cfg: DictConfig, out_dir: Path, device: torch.device, resumed: dict[str, Any] | None, d: Dist
) -> Run:
    """Data, networks (with the tricks' wrappers), loss, optimizers and fixed noise, restored from the
    checkpoint on resume. The order of construction is fixed: it draws from the seeded RNG."""
    tc = cfg.train
    if tc.precision == "auto":  # recorded resolved: the saved config and a resume keep the choice
        tc.precision, why = hardware.auto_precision(device)
        if d.main:
            log.info("train.precision=auto: %s on %s (%s)", tc.precision, device, why)
    data = DATASETS.build(cfg.dataset, tc.seed, device)
    loss = build_loss(cfg.loss)
    tricks = build_tricks(cfg, loss)
    if d.main:
        for note in schema.unused(cfg, data.shape):
            log.warning(note)
    G, D = build_models(cfg, data.shape, tricks)
    for trick in tricks:
        trick.prepare(G, D, data)
    G, D = G.to(device), D.to(device)
    if channels_last(cfg, device) and data.kind == "image":  # NHWC: oneDNN and cuDNN's fast conv layout
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        data.memory_format = torch.channels_last
    opt_g, opt_d = build_optimizers(cfg.optimizer, G, D, lazy_factors(cfg))
    n_fixed = tc.num_samples * (16 if data.kind == "points" else 1)
    z_fixed = latent(n_fixed, cfg.model.nz, torch.device("cpu"), torch.Generator().manual_seed(tc.seed + 1))
    run = Run(
        G,
        D,
        make_ema(G) if tc.ema else None,
        opt_g,
        opt_d,
        data,
        z_fixed.to(device),
        Precision(tc.precision, device),
        cfg=cfg,
        device=device,
        d=d,
        out_dir=out_dir,
        start=resumed["step"] if resumed else 0,
        resumed=resumed is not None,
        loss=loss,
        tricks=tricks,
    )
    if resumed is not None:
        run.load_state_dict(resumed)  # models, optimizers, data order, fixed z, RNG states
    run.G_train, run.D_train, run.D_frozen = G, D, D
    if d.active:  # same start on every rank; batch-norm statistics per rank, averaged at each checkpoint
        kw = ddp_kwargs(device)
        run.G_train = DDP(G, **kw)
        run.D_train = DDP(D, **kw)
    if d.active:
        # each rank its own noise (latents, penalty interpolation), from the seed, the rank and the step;
        # so a resumed data-parallel run is exact in weights and data order, not in the noise drawn
        torch.manual_seed((tc.seed * 1_000_003 + d.rank * 7919 + run.start) % 2**63)
    run.saved_config = OmegaConf.to_container(cfg, resolve=True)
    run.saved_config["resume"] = None  # the same config, whether or not the run was resumed
    return run


def channels_last(cfg: DictConfig, device: torch.device) -> bool:
    """train.channels_last, except under torch.compile on CUDA: there inductor traces the convolutions'
    backward with a meta kernel that predicts contiguous gradients for channels-last inputs, where cuDNN
    returns channels-last ones, and its stride check fails (pytorch/pytorch#171622, fixed by #177175 after
    torch 2.11). Those runs keep NCHW modules; cuDNN picks its own layouts inside."""
    if cfg.train.compile != "none" and device.type == "cuda":
        return False
    return bool(cfg.train.channels_last)


def compile_models(run: Run) -> None:
    """torch.compile what the step calls (the DDP wrappers when data parallel); G, D and G_ema stay the
    plain modules that checkpoints, samples and evaluation use, and gradient penalties (a double backward)
    call the plain D. The first steps pay the compilation.

    reduce-overhead: where the whole step is captured as one CUDA graph (run.graph, train.cuda_graph), the
    modules get inductor's kernels alone and the step's graph replays them; torch's own per-module graphs
    (cudagraph trees) lose G's output when D's graphs replay between G's forward and backward ("accessing
    tensor output of CUDAGraphs that has been overwritten by a subsequent run"). Without the step graph,
    each step is marked as a new iteration for them (torch.compiler.cudagraph_mark_step_begin)."""
    mode = run.cfg.train.compile
    if mode == "none":
        return
    if mode == "reduce-overhead" and run.graph is not None:
        mode = "default"
        log.info("train.compile=reduce-overhead: inductor's kernels, replayed in the step's CUDA graph")
    elif mode == "reduce-overhead" and run.device.type == "cuda":
        run.mark_steps = True
    run.G_train = torch.compile(run.G_train, mode=mode)
    run.D_train = torch.compile(run.D_train, mode=mode)
    run.D_frozen = torch.compile(run.D, mode=mode)


def advise(run: Run) -> None:
    """One-line advice about the precision on this device (rank 0 only)."""
    tc = run.cfg.train
    if hint := hardware.precision_hint(run.device, tc.precision):
        log.info(hint)
    if tc.precision == "fp16" and run.device.type == "cpu":
        log.warning(
            "train.precision=fp16 on a CPU: most CPUs have no fast fp16 kernels (convolutions can be "
            "100x slower); train.precision=auto picks the fastest measured on this kind of CPU."
        )
