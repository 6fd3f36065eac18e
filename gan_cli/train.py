"""gan-train: build the components named by the config and train them with Algorithm 1 of the GAN paper.

`main()` is the console entry (Hydra parses the command line); `train(cfg, out_dir)` is the plain function
it calls, usable from Python and tests.
"""

from __future__ import annotations

import json
import logging
import os
import random
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
from gan_cli.data import DATASETS, Sampler
from gan_cli.ema import make_ema, update_ema
from gan_cli.errors import ConfigError, UserError, report
from gan_cli.losses import LOSSES, GANLoss
from gan_cli.nets import MODELS, latent
from gan_cli.optim import build_optimizers
from gan_cli.plots import scatter_points
from gan_cli.tracking import Tracker, save_grid

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


@torch.no_grad()
def log_samples(
    tracker: Tracker,
    G_s: torch.nn.Module,
    D: torch.nn.Module,
    loss: GANLoss,
    data: Sampler,
    z_fixed: torch.Tensor,
    step: int,
    out_dir: Path,
) -> None:
    """Sample grid from the fixed z (images) or a scatter plot over D's heat map (2-D points)."""
    was_training = G_s.training
    G_s.eval()
    fake = G_s(z_fixed)
    G_s.train(was_training)
    (out_dir / "samples").mkdir(exist_ok=True)
    if data.kind == "image":
        tracker.images("samples/fixed_z", fake, step)
        save_grid(fake, out_dir / "samples" / f"step_{step:06d}.png")
    else:
        D.eval()
        real = data.sample_cpu(len(fake), torch.Generator().manual_seed(0))
        d_fn = lambda x: loss.prob(D(x.to(z_fixed.device)))  # noqa: E731
        image = scatter_points(real, fake, d_fn, f"step {step}", loss.d_label)
        D.train()
        tracker.picture("samples/scatter", image, step)
        from PIL import Image

        Image.fromarray(image).save(out_dir / "samples" / f"step_{step:06d}.png")


def train(cfg: DictConfig, out_dir: str | Path) -> dict[str, Any]:
    """Train the GAN described by `cfg`; write checkpoints, TensorBoard events and summary.json to out_dir."""
    t_start = time.perf_counter()
    schema.check(cfg)
    tc = cfg.train
    out_dir = Path(out_dir)
    ckpt_path = out_dir / "checkpoints" / "last.pt"
    if ckpt_path.exists():
        raise UserError(
            f"{out_dir} already holds a run ({ckpt_path} exists); refusing to overwrite it. "
            "Start the new run in another folder (hydra.run.dir=...)."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(tc.device)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    seed_everything(tc.seed)

    # Components, all built by name from the registries.
    data = DATASETS.build(cfg.dataset, tc.seed, device)
    G, D = MODELS.build(cfg.model, data.shape)
    G, D = G.to(device), D.to(device)
    loss = LOSSES.build(cfg.loss)
    opt_g, opt_d = build_optimizers(cfg.optimizer, G, D)
    G_ema = make_ema(G) if tc.ema else None
    z_fixed = latent(
        tc.num_samples * (16 if data.kind == "points" else 1),
        cfg.model.nz,
        torch.device("cpu"),
        torch.Generator().manual_seed(tc.seed + 1),
    ).to(device)
    if loss.penalty is not None and any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules()):
        log.warning(
            "loss=%s penalises per-sample gradients but D uses batch norm; "
            "model.d_norm=layer (or none) is the sound choice.",
            cfg.loss.name,
        )

    tracker = Tracker(out_dir)
    tracker.hparams(OmegaConf.to_container(cfg, resolve=True), ["loss/D", "loss/G", "perf/images_per_sec"])
    tracker.text("config", "```\n" + OmegaConf.to_yaml(cfg) + "```", 0)
    n_params = sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters())
    log.info(
        "run folder %s | device %s | data %s x %s | G %d params, D %d params",
        out_dir,
        device,
        cfg.dataset.name,
        list(data.shape),
        *n_params,
    )

    # Statistics are summed on the device and read once per log_every steps: no per-step host sync.
    stats = torch.zeros(len(STAT_NAMES), device=device)
    zero = torch.zeros((), device=device)
    last: dict[str, float] = {}
    images_seen, status, step = 0, "completed", 0
    t_loop = t_log = time.perf_counter()
    images_at_log, steps_at_log = 0, 0
    # A live bar on a terminal (ETA, losses); piped output gets the log lines alone.
    bar = tqdm(total=tc.steps, desc="gan-train", unit="step", dynamic_ncols=True, disable=None)
    with logging_redirect_tqdm():
        for step in range(1, tc.steps + 1):
            # Algorithm 1: k = train.d_steps discriminator updates...
            for k in range(tc.d_steps):
                real = data.next(tc.batch_size)  # [N, C, H, W] or [N, 2]
                z = latent(tc.batch_size, cfg.model.nz, device)
                last_k = k == tc.d_steps - 1
                with torch.set_grad_enabled(last_k):
                    fake = G(z)  # the last one is reused by the generator update, as in the DCGAN example
                real_logits, fake_logits = D(real), D(fake.detach())
                loss_d = loss.d_loss(real_logits, fake_logits)
                penalty = zero
                if loss.penalty is not None and loss.penalty.due((step - 1) * tc.d_steps + k):
                    penalty = loss.penalty(D, real, fake)
                opt_d.zero_grad(set_to_none=True)
                (loss_d + penalty).backward()
                opt_d.step()
                loss.after_d_step(D)
            # ...then one generator update, with D's parameters frozen.
            D.requires_grad_(False)
            loss_g = loss.g_loss(D(fake))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            D.requires_grad_(True)
            if G_ema is not None:
                update_ema(G_ema, G, tc.ema_decay, step)
            images_seen += tc.batch_size * tc.d_steps
            with torch.no_grad():
                stats += torch.stack(
                    [loss_d, loss_g, penalty, loss.prob(real_logits).mean(), loss.prob(fake_logits).mean()]
                ).float()
            bar.update(1)

            if step % tc.log_every == 0 or step == tc.steps:
                values = (stats / (step - steps_at_log)).tolist()
                stats.zero_()
                now = time.perf_counter()
                last = dict(zip(STAT_NAMES, values, strict=True))
                if loss.penalty is None:
                    del last["loss/penalty"]
                last["perf/images_per_sec"] = (images_seen - images_at_log) / max(now - t_log, 1e-9)
                last["lr/G"], last["lr/D"] = opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"]
                t_log, images_at_log, steps_at_log = now, images_seen, step
                tracker.scalars(last, step)
                bar.set_postfix(D=f"{last['loss/D']:.3f}", G=f"{last['loss/G']:.3f}")
                log.info(
                    "step %d/%d  loss_D %.4f  loss_G %.4f  D(x) %.3f  D(G(z)) %.3f  %.0f img/s",
                    step,
                    tc.steps,
                    last["loss/D"],
                    last["loss/G"],
                    last["D/real"],
                    last["D/fake"],
                    last["perf/images_per_sec"],
                )
                if not all(np.isfinite(v) for v in values):
                    status = "diverged"
                    msg = f"training diverged at step {step}: a loss is not finite ({last}). Stopping."
                    log.error(msg)
                    tracker.text("status", msg, step)
                    break
            if tc.sample_every and step % tc.sample_every == 0 and step != tc.steps:
                log_samples(tracker, G_ema or G, D, loss, data, z_fixed, step, out_dir)
            if tc.ckpt_every and step % tc.ckpt_every == 0 and step != tc.steps:
                checkpoint.save(_state(step, G, D, G_ema, opt_g, opt_d, data, z_fixed, cfg), ckpt_path)
    bar.close()
    train_time = time.perf_counter() - t_loop

    if status == "completed":
        log_samples(tracker, G_ema or G, D, loss, data, z_fixed, step, out_dir)
        checkpoint.save(_state(step, G, D, G_ema, opt_g, opt_d, data, z_fixed, cfg), ckpt_path)
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
    }
    write_json(summary, out_dir / "summary.json")
    log.info(
        "%s after %d steps in %.1f s (%.0f img/s); run folder %s",
        status,
        step,
        train_time,
        summary["images_per_sec"],
        out_dir,
    )
    return summary


def _state(step, G, D, G_ema, opt_g, opt_d, data, z_fixed, cfg) -> dict[str, Any]:
    """Everything a resume needs, as tensors and plain containers (loadable with weights_only=True)."""
    return {
        "step": int(step),
        "G": G.state_dict(),
        "D": D.state_dict(),
        "G_ema": G_ema.state_dict() if G_ema is not None else None,
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict(),
        "data": data.state_dict(),
        "data_kind": data.kind,
        "data_shape": list(data.shape),
        "z_fixed": z_fixed.cpu(),
        "rng": checkpoint.rng_state(),
        "config": OmegaConf.to_container(cfg, resolve=True),
        "version": 1,
    }


_failed_jobs: list[str] = []


@hydra.main(version_base="1.3", config_path="pkg://gan_cli.conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> dict[str, Any] | None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = train(cfg, out_dir)
    except UserError as err:
        report("gan-train", err)
        _failed_jobs.append(str(out_dir))
        try:  # record the failure in the job's own folder, so a sweep shows which job failed and why
            write_json({"status": "failed", "error": " ".join(str(err).split())}, out_dir / "summary.json")
        except OSError:
            pass
        return None
    return summary


def main() -> None:
    """Console entry `gan-train`: Hydra parses overrides; a failed job makes the exit status non-zero."""
    schema.register_schemas()
    _hydra_main()
    if _failed_jobs:
        sys.exit(2)


if __name__ == "__main__":
    main()
