"""gan-train: build the components named by the config and train them with Algorithm 1 of the GAN paper.

`main()` is the console entry (Hydra parses the command line); `train(cfg, out_dir)` is the plain function
it calls, usable from Python and tests.
"""

from __future__ import annotations

import json
import logging
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
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from gan_cli import checkpoint, schema
from gan_cli.data import DATASETS
from gan_cli.ema import make_ema, update_ema
from gan_cli.errors import ConfigError, UserError, report
from gan_cli.evaluate import evaluate
from gan_cli.losses import GANLoss, build_loss
from gan_cli.nets import build_models, latent
from gan_cli.optim import apply_schedule, build_optimizers
from gan_cli.precision import Precision
from gan_cli.resume import resume_config
from gan_cli.signals import StopRequest
from gan_cli.tracking import Tracker, log_samples

log = logging.getLogger("gan_cli.train")
STAT_NAMES = ("loss/D", "loss/G", "loss/penalty", "D/real", "D/fake")


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
    run: checkpoint.Training, loss: GANLoss, tc: DictConfig, nz: int, step: int
) -> torch.Tensor | None:
    """One iteration of Algorithm 1: [loss_D, loss_G, penalty, D(x), D(G(z))] on the device, or None
    when fp16 loss scaling skipped an update (its overflowed values say nothing about training)."""
    G, D, prec, device = run.G, run.D, run.precision, run.z_fixed.device
    applied = True
    penalty = torch.zeros((), device=device)
    # k = train.d_steps discriminator updates...
    for k in range(tc.d_steps):
        real = run.data.next(tc.batch_size)  # [N, C, H, W] or [N, 2]
        z = latent(tc.batch_size, nz, device)
        with prec.autocast():
            with torch.set_grad_enabled(k == tc.d_steps - 1):
                fake = G(z)  # the last one is reused by the generator update, as in the DCGAN example
            real_logits, fake_logits = D(real).float(), D(fake.detach()).float()  # losses in fp32
            loss_d = loss.d_loss(real_logits, fake_logits)
            loss_d_total = loss_d
            if loss.penalty is not None and loss.penalty.due((step - 1) * tc.d_steps + k):
                penalty = loss.penalty(D, real, fake, prec.scalers["d"])
                loss_d_total = loss_d + penalty
        run.opt_d.zero_grad(set_to_none=True)
        applied &= prec.backward_step(loss_d_total, run.opt_d, "d")
        loss.after_d_step(D)
    # ...then one generator update, with D's parameters frozen.
    D.requires_grad_(False)
    with prec.autocast():
        real_for_g = D(real).float() if loss.g_needs_real else None  # relativistic losses only
        loss_g = loss.g_loss(D(fake).float(), real_for_g)
    run.opt_g.zero_grad(set_to_none=True)
    applied &= prec.backward_step(loss_g, run.opt_g, "g")
    D.requires_grad_(True)
    if run.G_ema is not None:
        update_ema(run.G_ema, G, tc.ema_decay, step)
    if not applied:
        return None
    with torch.no_grad():
        values = (loss_d, loss_g, penalty, loss.prob(real_logits).mean(), loss.prob(fake_logits).mean())
        return torch.stack([v.float() for v in values])


def train(cfg: DictConfig, out_dir: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Train the GAN described by `cfg`; write checkpoints, TensorBoard events and summary.json to out_dir.

    With `cfg.resume` set, continue that run folder in place instead (out_dir is then ignored); `overrides`
    are the command line's, which a resume applies to the run's own saved config.
    """
    t_start = time.perf_counter()
    resumed = None
    if cfg.resume:
        cfg, resumed, out_dir = resume_config(cfg, overrides)
    schema.check(cfg)
    tc = cfg.train
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    if resumed is None:
        checkpoint.refuse_existing_run(out_dir)
    start = resumed["step"] if resumed else 0
    if start >= tc.steps:
        raise UserError(
            f"{out_dir} is already at step {start}; ask for more with train.steps=N (N > {start})."
        )
    try:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the run folder {ckpt_dir}: {err}.") from None
    checkpoint.remove_stale_temporaries(ckpt_dir)
    device = resolve_device(tc.device)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    seed_everything(tc.seed)

    # Components, all built by name from the registries.
    data = DATASETS.build(cfg.dataset, tc.seed, device)
    G, D = build_models(cfg.model, data.shape)
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
    if tc.precision == "fp16" and device.type == "cpu":
        log.warning(
            "train.precision=fp16 on a CPU: most CPUs have no fast fp16 kernels (convolutions can be "
            "100x slower); train.precision=bf16 is the fast mixed precision on CPUs."
        )
    if loss.penalty is not None and any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules()):
        log.warning(
            "loss=%s penalises per-sample gradients but D uses batch norm; "
            "model.d_norm=layer (or none) is the sound choice.",
            cfg.loss.name,
        )
    saved_config = OmegaConf.to_container(cfg, resolve=True)
    saved_config["resume"] = None  # the same config, whether or not the run was resumed

    # On resume, TensorBoard drops events logged after the checkpoint: curves continue without duplicates.
    tracker = Tracker(out_dir, purge_step=start + 1 if resumed else None)
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
    bar = tqdm(total=tc.steps, initial=start, desc="gan-train", unit="step", dynamic_ncols=True, disable=None)
    with logging_redirect_tqdm(), StopRequest() as stop:
        for step in range(start + 1, tc.steps + 1):
            apply_schedule(cfg.optimizer, (run.opt_g, run.opt_d), step, tc.steps)
            values = gan_step(run, loss, tc, cfg.model.nz, step)
            if values is None:
                skipped += 1  # fp16 overflow: the scaler lowered its scale and skipped the update
            else:
                stats += values
            images_seen += tc.batch_size * tc.d_steps
            bar.update(1)

            is_last = step == tc.steps
            # One reading of the stop flag per step: a signal arriving later in this step is seen next step,
            # so a stop always goes through the checkpoint below.
            stopping = stop.signum is not None
            due_ckpt = is_last or stopping or (tc.ckpt_every and step % tc.ckpt_every == 0)
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
            if tc.eval_every and (step % tc.eval_every == 0 or is_last):
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
            if (tc.sample_every and step % tc.sample_every == 0) or is_last:
                log_samples(tracker, run.G_ema or G, D, loss, data, run.z_fixed, step, out_dir, G)
            if due_ckpt:
                checkpoint.save_rotating(run.state_dict(step, saved_config), ckpt_dir, tc.keep_ckpts)
            if stopping:
                status = "interrupted"
                log.warning(
                    "stopped by %s at step %d; continue with: gan-train resume=%s",
                    signal.Signals(stop.signum).name,
                    step,
                    out_dir,
                )
                break
    bar.close()
    train_time = time.perf_counter() - t_loop
    tracker.close()
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
    }
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


_failed_jobs: list[str] = []


@hydra.main(version_base="1.3", config_path="pkg://gan_cli.conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> dict[str, Any] | None:
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        summary = train(cfg, out_dir, overrides=list(hydra_cfg.overrides.task))
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
    return summary


def main() -> None:
    """Console entry `gan-train`: Hydra parses overrides; a failed job makes the exit status non-zero."""
    schema.register_schemas()
    _hydra_main()
    if _failed_jobs:
        sys.exit(2)


if __name__ == "__main__":
    main()
