"""gan-train: build the components named by the config and train them with Algorithm 1 of the GAN paper.

`main()` is the console entry (Hydra parses the command line); `train(cfg, out_dir)` is the plain function
it calls, usable from Python and tests.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch import nn
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from gan_cli import checkpoint, distributed, hardware, schema
from gan_cli.augment import DiffAugment
from gan_cli.data import DATASETS
from gan_cli.distributed import Dist
from gan_cli.ema import make_ema, update_ema
from gan_cli.errors import ConfigError, UserError, report
from gan_cli.evaluate import evaluate
from gan_cli.losses import GANLoss, build_loss, mode_seeking
from gan_cli.nets import CategoricalLatent, build_models, info_head, latent, projection
from gan_cli.optim import apply_schedule, build_optimizers
from gan_cli.penalties import GradientPenalty
from gan_cli.precision import Precision
from gan_cli.resume import resume_config
from gan_cli.signals import StopRequest
from gan_cli.sweeps import check_plugins, objective_value
from gan_cli.tracking import NullTracker, Tracker, log_samples

log = logging.getLogger("gan_cli.train")
STAT_NAMES = ("loss/D", "loss/G", "loss/penalty", "D/real", "D/fake", "loss/info", "loss/mode_seeking")


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when available, else CPU; asking for CUDA without it is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"train.device={name} but no CUDA device is available. Use train.device=auto or cpu."
        )
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def write_json(data: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def gan_step(
    run: checkpoint.Training, loss: GANLoss, tc: DictConfig, nz: int, step: int, d: Dist | None = None
) -> torch.Tensor | None:
    """One iteration of Algorithm 1: [loss_D, loss_G, penalty, D(x), D(G(z))] on the device, or None
    when fp16 loss scaling skipped an update (its overflowed values say nothing about training).

    Data parallel (d.world > 1): every rank draws the same global batch and trains on its own shard, with
    its own noise; G and D run through their DistributedDataParallel wrappers, which average gradients.
    D's updates go through the wrapper; G's update calls the bare D (frozen, nothing of D to average)."""
    d = d or Dist()
    G, D, prec, device = run.G, run.D, run.precision, run.z_fixed.device
    G_train = run.G_train if run.G_train is not None else G  # (compiled modules refuse bool())
    D_train = run.D_train if run.D_train is not None else D
    D_frozen = run.D_frozen if run.D_frozen is not None else D
    shard = tc.batch_size // d.world
    augment = run.augment or (lambda x: x)  # DiffAugment: every image D sees, real or generated
    sigma = instance_noise(tc, step)

    def aug(x: torch.Tensor) -> torch.Tensor:  # what D sees: augmented, then blurred by instance noise
        x = augment(x)
        return x + sigma * torch.randn_like(x) if sigma > 0 else x

    applied = True
    penalty = loss_info = loss_ms = torch.zeros((), device=device)
    ms = loss.mode_seeking
    classes = G.classes if isinstance(G, CategoricalLatent) else 0
    head = info_head(D)
    info = head.weight if head is not None else 0.0  # model.info_weight
    conditional = projection(D) is not None  # D(x, y): real labels from the data, fake ones from z
    y_real = y_fake = None

    def judge(D_: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return D_(x, y) if conditional else D_(x)

    # k = train.d_steps discriminator updates...
    for k in range(tc.d_steps):
        if conditional:
            real, y_real = run.data.next_labelled(tc.batch_size)
        else:
            real = run.data.next(tc.batch_size)  # [N, C, H, W] or [N, 2]
        if d.active:
            real = real[d.rank * shard : (d.rank + 1) * shard]
            y_real = y_real[d.rank * shard : (d.rank + 1) * shard] if conditional else None
        z = latent(shard, nz, device)
        if ms and classes:  # MSGAN's pairs (first half, second half) share their class
            z[shard // 2 : 2 * (shard // 2), 0] = z[: shard // 2, 0]
        y_fake = G.classes_of(z) if conditional else None
        with prec.autocast():
            with torch.set_grad_enabled(k == tc.d_steps - 1):
                fake = G_train(z)  # the last one is reused by the generator update, as in the DCGAN example
            real_in, fake_in = aug(real), aug(fake.detach())
            real_logits = judge(D_train, real_in, y_real).float()  # losses in fp32
            if info:  # InfoGAN: Q (on D's features) learns to read the class z picked from G(z)
                fake_logits, code_logits = D_train(fake_in, with_code=True)
                fake_logits, loss_info = fake_logits.float(), head.info_loss(code_logits, z)
            else:
                fake_logits = judge(D_train, fake_in, y_fake).float()
            loss_d = loss.d_loss(real_logits, fake_logits)
            loss_d_total = loss_d + info * loss_info if info else loss_d
            if loss.penalty is not None and loss.penalty.due((step - 1) * tc.d_steps + k):
                D_pen = functools.partial(D, y=y_real) if conditional else D  # real labels (R1, GP)
                penalty = loss.penalty(D_pen, real_in, fake_in, prec.scalers["d"])
                loss_d_total = loss_d + penalty
        run.opt_d.zero_grad(set_to_none=True)
        applied &= prec.backward_step(loss_d_total, run.opt_d, "d")
        loss.after_d_step(D)
    # ...then one generator update, with D's parameters frozen.
    D.requires_grad_(False)
    with prec.autocast():
        # relativistic losses only
        real_for_g = judge(D_frozen, aug(real), y_real).float() if loss.g_needs_real else None
        if info:  # ...and G learns to make that class readable
            fake_for_g, code_logits = D_frozen(aug(fake), with_code=True)
            fake_for_g, loss_info_g = fake_for_g.float(), head.info_loss(code_logits, z)
        else:
            fake_for_g = judge(D_frozen, aug(fake), y_fake).float()
        if keep := loss.topk_fraction(step, tc.steps):  # top-k training: D's best-rated samples only
            fake_for_g = fake_for_g.topk(max(1, math.ceil(keep * len(fake_for_g)))).values
        loss_g = loss.g_loss(fake_for_g, real_for_g)
        if info:
            loss_g = loss_g + info * loss_info_g
        if ms:
            loss_ms = mode_seeking(fake, z, continuous_from=1 if classes else 0)
            loss_g = loss_g + ms * loss_ms
    run.opt_g.zero_grad(set_to_none=True)
    applied &= prec.backward_step(loss_g, run.opt_g, "g")
    D.requires_grad_(True)
    if run.G_ema is not None:
        update_ema(run.G_ema, G, tc.ema_decay, step)
    if not applied:
        return None
    with torch.no_grad():
        values = (
            loss_d,
            loss_g,
            penalty,
            loss.prob(real_logits).mean(),
            loss.prob(fake_logits).mean(),
            loss_info,
            loss_ms,
        )
        return torch.stack([v.float() for v in values])


def check_labels(data: Any, cfg: DictConfig) -> None:
    """model.conditional: the dataset must have labels 0..K-1 with K = model.latent_classes."""
    labels = getattr(data, "labels", None)
    if labels is None:
        raise ConfigError(
            f"model.conditional=true needs class labels, and dataset={cfg.dataset.name} has none (the 2-D "
            "mixtures and an image folder without class subfolders have none). Leave model.conditional=false."
        )
    classes = int(labels.max()) + 1
    if classes != cfg.model.latent_classes:
        raise ConfigError(
            f"model.latent_classes={cfg.model.latent_classes}, but dataset={cfg.dataset.name} has {classes} "
            f"classes; a conditional GAN needs one latent class per label: model.latent_classes={classes}."
        )


def instance_noise(tc: DictConfig, step: int) -> float:
    """Std of the Gaussian noise added to every input of D at this step (Sonderby et al. 2016; Arjovsky and
    Bottou 2017): train.instance_noise at the start, falling linearly to 0 at train.instance_noise_until of
    train.steps. Early on D sees both distributions blurred, so its gradients balance G's mass between
    distant modes; the fine structure comes later."""
    if tc.instance_noise <= 0:
        return 0.0
    return tc.instance_noise * max(0.0, 1.0 - (step - 1) / (tc.instance_noise_until * tc.steps))


def fit_rejection_sampler(G: nn.Module, data: Any, cfg: DictConfig, device: torch.device, last: Path) -> None:
    """train.rejection_steps: fit the single-sample discriminator of rejection sampling to the final
    sampling G and add it (with its threshold) to last.pt, which stays resumable."""
    from gan_cli.rejection import fit_ratio

    t0 = time.perf_counter()
    tc = cfg.train
    state = checkpoint.load(last)
    state["ratio_D"], state["ratio_threshold"] = fit_ratio(
        G, data, cfg.model, cfg.model.nz, tc.rejection_steps, tc.batch_size, tc.seed + 3, device
    )
    checkpoint.save(state, last)
    log.info(
        "rejection sampling: fitted a discriminator to the final G in %d steps (%.1f s); gan-sample and "
        "gan-eval use it",
        tc.rejection_steps,
        time.perf_counter() - t0,
    )


def compile_models(run: checkpoint.Training, mode: str) -> None:
    """torch.compile what the step calls (the DDP wrappers when data parallel); G, D and G_ema stay the
    plain modules that checkpoints, samples and evaluation use. The first steps pay the compilation."""
    run.G_train = torch.compile(run.G_train if run.G_train is not None else run.G, mode=mode)
    run.D_train = torch.compile(run.D_train if run.D_train is not None else run.D, mode=mode)
    run.D_frozen = torch.compile(run.D, mode=mode)


def train(
    cfg: DictConfig, out_dir: str | Path, overrides: list[str] | None = None, dist_info: Dist | None = None
) -> dict[str, Any]:
    """Train the GAN described by `cfg`; write checkpoints, TensorBoard events and summary.json to out_dir.

    With `cfg.resume` set, continue that run folder in place instead (out_dir is then ignored); `overrides`
    are the command line's, which a resume applies to the run's own saved config. With train.world_size > 1
    (and no `dist_info`), start that many ranks in child processes and wait for them.
    """
    t_start = time.perf_counter()
    d = dist_info or Dist()
    if not cfg.resume and checkpoint.requeued(out_dir):  # submitit requeued this job: continue it
        log.warning("%s holds this job's checkpoint (requeued by submitit): resuming from it", out_dir)
        cfg, overrides = OmegaConf.merge(cfg, {"resume": str(out_dir)}), None
    cfg_in, resumed = cfg, None
    if cfg.resume:
        cfg, resumed, out_dir = resume_config(cfg, overrides)
    schema.check(cfg)
    tc = cfg.train
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
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
    device = resolve_device(tc.device)
    if tc.world_size > 1 and not d.active:
        return _spawn_ranks(cfg_in, overrides, out_dir, tc.world_size, device)
    if d.active and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
    hardware.configure(device)
    if d.main:
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

    # Components, all built by name from the registries.
    data = DATASETS.build(cfg.dataset, tc.seed, device)
    conditional = bool(cfg.model.get("conditional", False))  # (runs saved before the key: False)
    if conditional:
        check_labels(data, cfg)
    if d.main:
        for note in schema.unused(cfg, data.shape):
            log.warning(note)
    G, D = build_models(cfg.model, data.shape)
    if conditional:  # generated labels in the dataset's proportions
        G.set_class_counts(torch.bincount(data.labels, minlength=cfg.model.latent_classes))
    G, D = G.to(device), D.to(device)
    if tc.channels_last and data.kind == "image":  # NHWC: oneDNN and cuDNN's fast convolution layout
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        data.memory_format = torch.channels_last
    loss = build_loss(cfg.loss)
    opt_g, opt_d = build_optimizers(cfg.optimizer, G, D)
    n_fixed = tc.num_samples * (16 if data.kind == "points" else 1)
    z_fixed = latent(n_fixed, cfg.model.nz, torch.device("cpu"), torch.Generator().manual_seed(tc.seed + 1))
    G_ema = make_ema(G) if tc.ema else None
    run = checkpoint.Training(
        G, D, G_ema, opt_g, opt_d, data, z_fixed.to(device), Precision(tc.precision, device)
    )
    if resumed is not None:
        run.load_state_dict(resumed)  # models, optimizers, data order, fixed z, RNG states
    if d.active:
        from torch.nn.parallel import DistributedDataParallel as DDP

        # same start on every rank; batch-norm statistics stay per rank (rank 0's are saved)
        kw = distributed.ddp_kwargs(device)
        run.G_train, run.D_train = DDP(G, **kw), DDP(D, **kw)
    if tc.diffaug:
        if data.kind != "image":
            raise ConfigError(
                f"train.diffaug={list(tc.diffaug)} augments images, but dataset={cfg.dataset.name} gives "
                "points. Leave train.diffaug empty for the 2-D datasets."
            )
        run.augment = DiffAugment(tc.diffaug)
    if tc.compile != "none":
        compile_models(run, tc.compile)
    if d.active:
        # each rank its own noise (latents, penalty interpolation), from the seed, the rank and the step;
        # so a resumed data-parallel run is exact in weights and data order, not in the noise drawn
        torch.manual_seed((tc.seed * 1_000_003 + d.rank * 7919 + start) % 2**63)
    if d.main and (hint := hardware.precision_hint(device, tc.precision)):
        log.info(hint)
    if tc.precision == "fp16" and device.type == "cpu":
        log.warning(
            "train.precision=fp16 on a CPU: most CPUs have no fast fp16 kernels (convolutions can be "
            "100x slower); train.precision=bf16 is the fast mixed precision on CPUs."
        )
    if isinstance(loss.penalty, GradientPenalty) and any(
        isinstance(m, torch.nn.BatchNorm2d) for m in D.modules()
    ):
        log.warning(
            "loss=%s penalises per-sample gradients but D uses batch norm; "
            "model.d_norm=layer (or none) is the sound choice.",
            cfg.loss.name,
        )
    saved_config = OmegaConf.to_container(cfg, resolve=True)
    saved_config["resume"] = None  # the same config, whether or not the run was resumed

    # On resume, TensorBoard drops events logged after the checkpoint: curves continue without duplicates.
    tracker = Tracker(out_dir, purge_step=start + 1 if resumed else None) if d.main else NullTracker()
    if resumed is None:
        tracker.hparams(saved_config, ["loss/D", "loss/G", "perf/images_per_sec"])
        tracker.text("config", "```\n" + OmegaConf.to_yaml(cfg) + "```", 0)
    n_params = sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters())
    log.info(
        "%s %s | device %s | data %s x %s | G %d params, D %d params",
        f"resuming at step {start}:" if resumed else "run folder",
        out_dir,
        device,
        cfg.dataset.name,
        list(data.shape),
        *n_params,
    )

    # Statistics are summed on the device and read once per log_every steps: no per-step host sync.
    stats = torch.zeros(len(STAT_NAMES), device=device)
    last: dict[str, float] = {}
    images_seen, status, step, skipped = 0, "completed", start, 0
    t_loop = t_log = time.perf_counter()
    images_at_log, steps_at_log = 0, start
    # A live bar on a terminal (ETA, losses); piped output gets the log lines alone.
    bar = tqdm(
        total=tc.steps,
        initial=start,
        desc="gan-train",
        unit="step",
        dynamic_ncols=True,
        disable=None if d.main else True,
    )
    signals = (signal.SIGTERM,) if d.spawned else StopRequest.SIGNALS  # spawned: the parent relays
    with logging_redirect_tqdm(), StopRequest(signals) as stop:
        for step in range(start + 1, tc.steps + 1):
            apply_schedule(cfg.optimizer, (run.opt_g, run.opt_d), step, tc.steps)
            values = gan_step(run, loss, tc, cfg.model.nz, step, d)
            if values is None:
                skipped += 1  # fp16 overflow: the scaler lowered its scale and skipped the update
            else:
                stats += values
            images_seen += tc.batch_size * tc.d_steps
            bar.update(1)

            is_last = step == tc.steps
            # One reading of the stop flag per step: a signal arriving later in this step is seen next step,
            # so a stop always goes through the checkpoint below.
            stopping = d.any(stop.signum is not None, device)  # all ranks stop at the same step
            due_ckpt = is_last or stopping or (tc.ckpt_every and step % tc.ckpt_every == 0)
            if d.active and (step % tc.log_every == 0 or due_ckpt):
                d.mean_(stats)  # every rank sees (and judges) the same averaged statistics
            if step % tc.log_every == 0 or is_last:
                ips = (images_seen - images_at_log) / max(time.perf_counter() - t_log, 1e-9)
                counted = max(step - steps_at_log - skipped, 1)
                last = log_stats(tracker, stats / counted, step, tc.steps, ips, run, loss, bar)
                if run.precision.name == "fp16":
                    tracker.scalars(
                        {"amp/skipped_steps": skipped, "amp/scale_d": run.precision.scalers["d"].get_scale()},
                        step,
                    )
                t_log, images_at_log, steps_at_log, skipped = time.perf_counter(), images_seen, step, 0
                stats.zero_()
            # Nothing non-finite is ever checkpointed: the last checkpoint stays the last good state.
            if (step % tc.log_every == 0 or due_ckpt) and not (
                torch.isfinite(stats).all() and all(np.isfinite(v) for v in last.values())
            ):
                status = "diverged"
                msg = (
                    f"training diverged at step {step}: a loss is not finite ({last}). Stopping; "
                    "the last checkpoint holds the last good state."
                )
                log.error(msg)
                tracker.text("status", msg, step)
                break
            if d.main and tc.eval_every and (step % tc.eval_every == 0 or is_last):
                metrics = evaluate(run.G_ema or G, G, D, data, cfg, device, inception=tc.inception or None)
                tracker.scalars(
                    {
                        f"metrics/{k}": v
                        for k, v in metrics.items()
                        if isinstance(v, int | float) and not k.startswith("num_")
                    },
                    step,
                )
                log.info("step %d metrics: %s", step, json.dumps(metrics))
            if d.main and ((tc.sample_every and step % tc.sample_every == 0) or is_last):
                log_samples(tracker, run.G_ema or G, D, loss, data, run.z_fixed, step, out_dir, G)
            if d.main and due_ckpt:
                checkpoint.save_rotating(run.state_dict(step, saved_config), ckpt_dir, tc.keep_ckpts)
            if stopping:
                status = "interrupted"
                signum = stop.signum or signal.SIGTERM  # another rank may have got it
                log.warning(
                    "stopped by %s at step %d; continue with: gan-train resume=%s",
                    signal.Signals(signum).name,
                    step,
                    out_dir,
                )
                break
    bar.close()
    train_time = time.perf_counter() - t_loop
    tracker.close()
    weights = None
    if d.active:
        torch.distributed.barrier()  # rank 0 has written its last checkpoint
        weights = d.gather(distributed.fingerprint(G, D))  # the ranks must hold the same networks
        if len(set(weights)) != 1:
            log.error("data-parallel ranks ended with different weights: %s", weights)
    if d.main and status == "completed" and tc.rejection_steps:
        fit_rejection_sampler(run.G_ema or G, data, cfg, device, ckpt_dir / "last.pt")
    summary = {
        "status": status,
        "step": step,
        "steps": tc.steps,
        "loss_D": last.get("loss/D"),
        "loss_G": last.get("loss/G"),
        "D_real": last.get("D/real"),
        "D_fake": last.get("D/fake"),
        "images_per_sec": images_seen / max(train_time, 1e-9),
        "train_time_sec": train_time,
        "wall_time_sec": time.perf_counter() - t_start,
        "device": str(device),
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "loss": cfg.loss.name,
        "resumed_from": start if resumed else None,
        "signal": signal.Signals(stop.signum).name if stop.signum is not None else None,
        "world_size": d.world,
        "rank_weights_sha256": weights,
    }
    if status == "interrupted" and summary["signal"] is None:
        summary["signal"] = "SIGTERM"
    if not d.main:
        return summary
    write_json(summary, out_dir / "summary.json")
    log.info(
        "%s at step %d after %.1f s of training (%.0f img/s); run folder %s",
        status,
        step,
        train_time,
        summary["images_per_sec"],
        out_dir,
    )
    return summary


def _spawn_ranks(
    cfg: DictConfig, overrides: list[str] | None, out_dir: Path, world: int, device: torch.device
) -> dict[str, Any]:
    """train.world_size=N: run N ranks of train() in child processes; their rank 0 writes the run."""
    log.info(
        "starting %d data-parallel ranks (%s) for %s",
        world,
        "NCCL" if device.type == "cuda" else "gloo",
        out_dir,
    )
    container = OmegaConf.to_container(cfg, resolve=True)
    received = distributed.spawn(world, device.type, container, out_dir, list(overrides or []))
    summary = json.loads((out_dir / "summary.json").read_text())
    if received is not None:
        summary["signal"] = signal.Signals(received).name  # what this process was sent (Ctrl-C: SIGINT)
    return summary


def log_stats(
    tracker: Tracker,
    mean: torch.Tensor,
    step: int,
    steps: int,
    images_per_sec: float,
    run: checkpoint.Training,
    loss: GANLoss,
    bar: tqdm,
) -> dict[str, float]:
    """Write the statistics averaged since the last log (one host sync) to TensorBoard and the console."""
    values = dict(zip(STAT_NAMES, mean.tolist(), strict=True))
    if loss.penalty is None:
        del values["loss/penalty"]
    if info_head(run.D) is None:
        del values["loss/info"]
    if not loss.mode_seeking:
        del values["loss/mode_seeking"]
    values["perf/images_per_sec"] = images_per_sec
    values["lr/G"], values["lr/D"] = run.opt_g.param_groups[0]["lr"], run.opt_d.param_groups[0]["lr"]
    tracker.scalars(values, step)
    bar.set_postfix(D=f"{values['loss/D']:.3f}", G=f"{values['loss/G']:.3f}")
    log.info(
        "step %d/%d  loss_D %.4f  loss_G %.4f  D(x) %.3f  D(G(z)) %.3f  %.0f img/s",
        step,
        steps,
        values["loss/D"],
        values["loss/G"],
        values["D/real"],
        values["D/fake"],
        images_per_sec,
    )
    return values


def _torchrun_rank(cfg: DictConfig, out_dir: Path, overrides: list[str], d: Dist) -> dict[str, Any]:
    """Under torchrun: join the group, agree on rank 0's run folder, train as this rank."""
    distributed.init(d, resolve_device(cfg.train.device).type)
    try:
        out_dir = Path(d.broadcast(str(out_dir)))  # ranks may have started in different seconds
        if not d.main:
            logging.getLogger("gan_cli").setLevel(logging.WARNING)
        return train(cfg, out_dir, overrides=overrides, dist_info=d)
    finally:
        torch.distributed.destroy_process_group()


_failed_jobs: list[str] = []


@hydra.main(version_base="1.3", config_path="pkg://gan_cli.conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> dict[str, Any] | None:
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    ranks = distributed.torchrun_env()  # one of several processes started by torchrun
    try:
        if ranks is None:
            summary = train(cfg, out_dir, overrides=list(hydra_cfg.overrides.task))
        else:
            summary = _torchrun_rank(cfg, out_dir, list(hydra_cfg.overrides.task), ranks)
    except UserError as err:
        report("gan-train", err)
        _failed_jobs.append(str(out_dir))
        if not cfg.resume:  # record the failure in the job's own folder (a resumed run keeps its summary)
            try:
                write_json(
                    {"status": "failed", "error": " ".join(str(err).split())}, out_dir / "summary.json"
                )
            except OSError:
                pass
        return None
    if summary["signal"] is not None:  # Ctrl-C or SIGTERM ends the whole command, sweeps included
        sys.exit(128 + int(signal.Signals[summary["signal"]]))
    if cfg.objective:
        return objective_value(cfg.objective, summary, out_dir)
    return summary


def main() -> None:
    """Console entry `gan-train`: Hydra parses overrides; a failed job makes the exit status non-zero."""
    import warnings

    check_plugins(sys.argv[1:])
    # conf/hydra/launcher/submitit_*.yaml set gan-cli's defaults on top of the plugin's schema, on purpose
    warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema")
    schema.register_schemas()
    _hydra_main()
    if _failed_jobs:
        sys.exit(2)


if __name__ == "__main__":
    main()
