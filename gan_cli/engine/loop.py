"""train(cfg, out_dir): the training run, read top to bottom as its phases.

resolve the run (new, resumed, requeued) -> set up the process and build the components -> the loop
(steps; logs, evaluations, samples and checkpoints when due; stops) -> the summary.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from gan_cli import checkpoint, hardware
from gan_cli.engine.distributed import Dist, average_batch_norm_stats, fingerprint, init, spawn
from gan_cli.engine.graphs import setup as graph_setup
from gan_cli.engine.setup import Run, advise, build_run, compile_models, prepare_process, resolve_run
from gan_cli.engine.signals import StopRequest
from gan_cli.engine.stats import Stats, all_finite
from gan_cli.engine.step import train_step
from gan_cli.errors import UserError
from gan_cli.evaluation import evaluate
from gan_cli.files import write_json
from gan_cli.inception import find_weights
from gan_cli.judge import EvalConfig, evaluate_run
from gan_cli.optim import apply_schedule, base_lrs, lazy_factors
from gan_cli.rejection import fit_ratio
from gan_cli.tracking import NullTracker, Tracker, log_samples

log = logging.getLogger("gan_cli.train")


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
    cfg_in = cfg
    cfg, resumed, out_dir = resolve_run(cfg, out_dir, overrides, d)
    if cfg.train.world_size > 1 and not d.active:
        return spawn_ranks(cfg_in, overrides, out_dir, cfg.train.world_size)
    device = prepare_process(cfg, out_dir, d)
    run = build_run(cfg, out_dir, device, resumed, d)
    run.graph = graph_setup(run)  # train.cuda_graph, where it applies
    compile_models(run)  # train.compile
    run.overrides = list(overrides or [])
    tracker = open_tracker(run)
    outcome = loop(run, tracker)
    try:
        return finish(run, outcome, t_start, tracker)
    finally:
        tracker.close()


@dataclass
class Outcome:
    status: str  # completed | diverged | interrupted
    step: int
    last: dict[str, float]  # the last logged statistics
    images: int  # real images D saw
    seconds: float  # the loop's wall time
    signum: int | None


def loop(run: Run, tracker: Tracker) -> Outcome:
    """Steps until train.steps, a stop signal or divergence; checkpoints whenever due and at the end."""
    tc, d = run.cfg.train, run.d
    stats, last, status, step, images, t0 = Stats(), {}, "completed", run.start, 0, time.perf_counter()
    rate, bar = Rate(), progress_bar(run)
    signals = (signal.SIGTERM,) if d.spawned else StopRequest.SIGNALS  # spawned: the parent relays
    with logging_redirect_tqdm(), StopRequest(signals) as stop:
        for step in range(run.start + 1, tc.steps + 1):
            apply_schedule(run.cfg.optimizer, (run.opt_g, run.opt_d), step, tc.steps, lazy_factors(run.cfg))
            stats.add(train_step(run, step))  # None: an fp16 overflow skipped the update
            images += tc.batch_size * tc.d_steps
            bar.update(1)
            # One reading of the stop flag per step, on every rank at once: a signal arriving later in
            # this step is seen next step, so a stop always goes through a checkpoint.
            stopping = d.any(stop.signum is not None, run.device)
            due_log = step % tc.log_every == 0 or step == tc.steps
            due_ckpt = step == tc.steps or stopping or (tc.ckpt_every and step % tc.ckpt_every == 0)
            if d.active and (due_log or due_ckpt):
                stats.reduce_(d)
            if due_log:
                last = log_stats(tracker, run, stats.read(), step, rate.images_per_sec(images), bar)
            if (due_log or due_ckpt) and not (stats.finite() and all_finite(last)):
                status = diverged(tracker, step, last)  # the last checkpoint stays the last good state
                break
            if d.active and due_ckpt:  # every rank the same batch-norm statistics, from every shard
                average_batch_norm_stats(d, run.G, run.D, run.G_ema)
            if d.main:
                watch(run, tracker, step)
            if d.main and due_ckpt:
                state = run.state_dict(step, run.saved_config)
                checkpoint.save_rotating(state, run.out_dir / "checkpoints", tc.keep_ckpts)
            if stopping:
                status = "interrupted"
                break
    bar.close()
    return Outcome(status, step, last, images, time.perf_counter() - t0, stop.signum)


def progress_bar(run: Run) -> tqdm:
    """A live bar (ETA, losses) on a terminal, for rank 0; piped output gets the log lines alone."""
    return tqdm(
        total=run.cfg.train.steps,
        initial=run.start,
        desc="gan-train",
        unit="step",
        dynamic_ncols=True,
        disable=None if run.d.main else True,
    )


class Rate:
    """Images per second since the last log line."""

    def __init__(self) -> None:
        self.t, self.images = time.perf_counter(), 0

    def images_per_sec(self, images: int) -> float:
        now = time.perf_counter()
        rate = (images - self.images) / max(now - self.t, 1e-9)
        self.t, self.images = now, images
        return rate


def diverged(tracker: Tracker, step: int, last: dict[str, float]) -> str:
    msg = (
        f"training diverged at step {step}: a loss is not finite ({last}). Stopping; "
        "the last checkpoint holds the last good state."
    )
    log.error(msg)
    tracker.text("status", msg, step)
    return "diverged"


def watch(run: Run, tracker: Tracker, step: int) -> None:
    """Metrics (train.eval_every) and samples (train.sample_every, and the last step) when due."""
    tc, G_sample = run.cfg.train, run.G_ema or run.G
    is_last = step == tc.steps
    if tc.eval_every and (step % tc.eval_every == 0 or is_last):
        metrics = evaluate(
            G_sample, run.G, run.D, run.data, run.cfg, run.device, inception=tc.inception or None
        )
        numbers = {f"metrics/{k}": v for k, v in metrics.items() if isinstance(v, int | float)}
        tracker.scalars({k: v for k, v in numbers.items() if not k.startswith("metrics/num_")}, step)
        log.info("step %d metrics: %s", step, json.dumps(metrics))
    if (tc.sample_every and step % tc.sample_every == 0) or is_last:
        log_samples(tracker, G_sample, run.D, run.loss, run.data, run.z_fixed, step, run.out_dir, run.G)


def log_stats(
    tracker: Tracker, run: Run, values: dict[str, float], step: int, images_per_sec: float, bar: tqdm
) -> dict[str, float]:
    """The statistics averaged since the last log, to TensorBoard and the console."""
    values["perf/images_per_sec"] = images_per_sec
    values["lr/G"], values["lr/D"] = (float(o.param_groups[0]["lr"]) for o in (run.opt_g, run.opt_d))
    if run.precision.name == "fp16":
        values["amp/scale_d"] = run.precision.scalers["d"].get_scale()
    tracker.scalars(values, step)
    bar.set_postfix(
        D=f"{values.get('loss/D', float('nan')):.3f}", G=f"{values.get('loss/G', float('nan')):.3f}"
    )
    log.info(
        "step %d/%d  loss_D %.4f  loss_G %.4f  D(x) %.3f  D(G(z)) %.3f  %.0f img/s",
        step,
        run.cfg.train.steps,
        *(values.get(k, float("nan")) for k in ("loss/D", "loss/G", "D/real", "D/fake")),
        images_per_sec,
    )
    return values


# the final evaluation's figures that TensorBoard's HParams tab shows (those a run has), beside the losses
IMAGE_METRICS = ("precision", "recall", "fd_classifier", "is_ratio", "classes_present", "fid", "kid")
POINT_METRICS = ("modes", "high_quality", "reverse_kl", "distinct")


def hparams_of(run: Run) -> dict[str, Any]:
    """What a sweep compares runs by: the keys set on the command line (their values in the composed
    config), then the main choices. The whole config stays in the run folder (.hydra/, checkpoints)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    cfg, out = run.cfg, {}
    for text in run.overrides:
        try:
            key = OverridesParser.create().parse_override(text).key_or_group.lstrip("+~")
        except Exception:  # (a resume's own overrides were parsed before)
            continue
        key = key.replace("/", ".")
        value = OmegaConf.select(cfg, key, default=None)
        if OmegaConf.is_dict(value):  # a group: its option's name (loss=hinge: loss.name)
            value = value.get("name", text.partition("=")[2])
        elif OmegaConf.is_list(value):  # optimizer.betas=[0.5,0.999]: shown as written in the config
            value = str(OmegaConf.to_container(value))
        out[key] = value if value is not None else text.partition("=")[2]
    lr_g, lr_d = base_lrs(cfg.optimizer)
    t = cfg.train
    main = {
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "loss": cfg.loss.name,
        "optimizer": cfg.optimizer.name,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "train.batch_size": t.batch_size,
        "train.steps": t.steps,
        "train.seed": t.seed,
    }
    for key, value in main.items():  # after the command line's keys
        out.setdefault(key, value)
    return {k: v if isinstance(v, bool | int | float | str) else str(v) for k, v in out.items()}


def metric_tags(run: Run) -> list[str]:
    """The HParams tab's metrics: the final evaluation's figures (train.final_eval) and the last losses."""
    tags = ["loss/D", "loss/G"]
    if run.cfg.train.get("final_eval", True):
        names = POINT_METRICS if run.data.kind == "points" else IMAGE_METRICS
        tags = [f"eval/{m}" for m in names] + tags
    return tags


def final_evaluation(run: Run, tracker: Tracker, step: int) -> None:
    """train.final_eval: gan-eval's figures for the finished run (its eval.json, exactly as `gan-eval
    run=RUN` writes it), also as TensorBoard scalars `eval/KEY` at the last step for the HParams tab. FID
    and KID where the Inception weights are at hand (nothing is downloaded at the end of a run); data the
    metrics cannot judge (no labels, no Inception weights) is logged and skipped."""
    tc = run.cfg.train
    try:
        weights = None if tc.inception == "none" else find_weights(tc.inception or None)
        args = EvalConfig(run=str(run.out_dir), device=str(run.device), inception=str(weights or "none"))
        report_ = evaluate_run(args)
    except UserError as err:
        log.warning("final evaluation skipped: %s", " ".join(str(err).split()))
        return
    numbers = {k: v for k, v in report_["metrics"].items() if isinstance(v, int | float)}
    tracker.scalars({f"eval/{k}": float(v) for k, v in numbers.items() if not k.startswith("num_")}, step)
    log.info("final evaluation (eval.json): %s", json.dumps(numbers))


def open_tracker(run: Run) -> Tracker:
    """TensorBoard for rank 0; on resume, events logged after the checkpoint are dropped (no duplicates)."""
    if not run.d.main:
        return NullTracker()
    tracker = Tracker(run.out_dir, purge_step=run.start + 1 if run.resumed else None)
    if not run.resumed:
        tracker.hparams(hparams_of(run), metric_tags(run))
        tracker.text("config", "```\n" + OmegaConf.to_yaml(run.cfg) + "```", 0)
    advise(run)
    n_g, n_d = (sum(p.numel() for p in m.parameters()) for m in (run.G, run.D))
    log.info(
        "%s %s | device %s | data %s x %s | G %d params, D %d params",
        f"resuming at step {run.start}:" if run.resumed else "run folder",
        run.out_dir,
        run.device,
        run.cfg.dataset.name,
        list(run.data.shape),
        n_g,
        n_d,
    )
    return tracker


def finish(run: Run, out: Outcome, t_start: float, tracker: Tracker) -> dict[str, Any]:
    """Rank agreement, the rejection sampler, the final evaluation, summary.json and the closing log line."""
    tc, d = run.cfg.train, run.d
    weights = None
    if d.active:
        torch.distributed.barrier()  # rank 0 has written its last checkpoint
        weights = d.gather(fingerprint(run.G, run.D))  # the ranks must hold the same networks
        if len(set(weights)) != 1:
            log.error("data-parallel ranks ended with different weights: %s", weights)
    if out.status == "interrupted":
        signum = out.signum or signal.SIGTERM  # another rank may have got it
        log.warning(
            "stopped by %s at step %d; continue with: gan-train resume=%s",
            signal.Signals(signum).name,
            out.step,
            run.out_dir,
        )
    if d.main and out.status == "completed" and tc.rejection_steps:
        fit_rejection_sampler(run)
    if d.main and out.status == "completed" and tc.get("final_eval", True):
        final_evaluation(run, tracker, out.step)
    ada = next((t for t in run.tricks if t.name == "ada"), None)
    summary = {
        "status": out.status,
        "step": out.step,
        "steps": tc.steps,
        "loss_D": out.last.get("loss/D"),
        "loss_G": out.last.get("loss/G"),
        "D_real": out.last.get("D/real"),
        "D_fake": out.last.get("D/fake"),
        "augment_p": ada.p.item() if ada else None,  # ADA's p and last r_t at the end (None without it)
        "augment_rt": ada.rt.item() if ada else None,
        "images_per_sec": out.images / max(out.seconds, 1e-9),
        "train_time_sec": out.seconds,
        "wall_time_sec": time.perf_counter() - t_start,
        "device": str(run.device),
        "precision": run.precision.name,  # what train.precision=auto chose, or the one asked for
        "cuda_graph": run.graph is not None and run.graph.off is None,  # replayed to the end
        "dataset": run.cfg.dataset.name,
        "model": run.cfg.model.name,
        "loss": run.cfg.loss.name,
        "resumed_from": run.start if run.resumed else None,
        "signal": signal.Signals(out.signum).name if out.signum is not None else None,
        "world_size": d.world,
        "rank_weights_sha256": weights,
    }
    if out.status == "interrupted" and summary["signal"] is None:
        summary["signal"] = "SIGTERM"
    if d.main:
        write_json(summary, run.out_dir / "summary.json")
        log.info(
            "%s at step %d after %.1f s of training (%.0f img/s); run folder %s",
            out.status,
            out.step,
            out.seconds,
            summary["images_per_sec"],
            run.out_dir,
        )
    return summary


def fit_rejection_sampler(run: Run) -> None:
    """train.rejection_steps: fit the single-sample discriminator of rejection sampling to the final
    sampling G and add it (with its threshold) to last.pt, which stays resumable."""
    t0, tc = time.perf_counter(), run.cfg.train
    last = run.out_dir / "checkpoints" / "last.pt"
    state = checkpoint.load(last)
    state["ratio_D"], state["ratio_threshold"] = fit_ratio(
        run.G_ema or run.G,
        run.data,
        run.cfg,
        run.cfg.model.nz,
        tc.rejection_steps,
        tc.batch_size,
        tc.seed + 3,
        run.device,
    )
    checkpoint.save(state, last)
    log.info(
        "rejection sampling: fitted a discriminator to the final G in %d steps (%.1f s); gan-sample "
        "and gan-eval use it",
        tc.rejection_steps,
        time.perf_counter() - t0,
    )


def spawn_ranks(cfg: DictConfig, overrides: list[str] | None, out_dir: Path, world: int) -> dict[str, Any]:
    """train.world_size=N: run N ranks of train() in child processes; their rank 0 writes the run."""
    device = hardware.resolve_device(cfg.train.device)
    log.info(
        "starting %d data-parallel ranks (%s) for %s",
        world,
        "NCCL" if device.type == "cuda" else "gloo",
        out_dir,
    )
    container = OmegaConf.to_container(cfg, resolve=True)
    received = spawn(train, world, device.type, container, out_dir, list(overrides or []))
    summary = json.loads((out_dir / "summary.json").read_text())
    if received is not None:
        summary["signal"] = signal.Signals(received).name  # what this process was sent (Ctrl-C: SIGINT)
    return summary


def train_rank(cfg: DictConfig, out_dir: Path, overrides: list[str], d: Dist) -> dict[str, Any]:
    """One rank of a torchrun launch: join the group, agree on rank 0's run folder, train as this rank."""
    init(d, hardware.resolve_device(cfg.train.device).type)
    try:
        out_dir = Path(d.broadcast(str(out_dir)))  # ranks may have started in different seconds
        if not d.main:
            logging.getLogger("gan_cli").setLevel(logging.WARNING)
        return train(cfg, out_dir, overrides=overrides, dist_info=d)
    finally:
        torch.distributed.destroy_process_group()
