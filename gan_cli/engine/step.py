"""One training step, Algorithm 1 of the GAN paper: train.d_steps updates of D, then one of G with D frozen.

The step calls the run's tricks at fixed points (gan_cli/tricks/base.py) and never names one. Every D is
called the same way, D(x, y) -> DOut. Data parallel (run.d.world > 1): every rank draws the same global batch
and trains on its own shard of it, with its own noise; G and D run through their DistributedDataParallel
wrappers, which average gradients. G's update calls the bare D (frozen: nothing of D to average).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.ema import ema_decay, update_ema
from gan_cli.engine.setup import Run
from gan_cli.nets import latent
from gan_cli.tricks import Batch, Term

Data = list[tuple[Tensor, Tensor | None]]  # a step's real batches and labels, one per D update


def train_step(run: Run, step: int) -> dict[str, Tensor] | None:
    """The step's statistics by name (on the device), or None when fp16 loss scaling skipped an update
    (its overflowed values say nothing about training). The updates run as a replayed CUDA graph when
    run.graph is set (train.cuda_graph), else as they come; G's weight average follows either way."""
    if run.mark_steps:
        torch.compiler.cudagraph_mark_step_begin()
    data = [draw_data(run) for _ in range(run.cfg.train.d_steps)]
    stats, applied = (run.graph or updates)(run, step, data)
    if run.G_ema is not None:
        tc = run.cfg.train
        update_ema(run.G_ema, run.G, ema_decay(tc, step, tc.batch_size))
    return stats if applied else None


def updates(run: Run, step: int, data: Data) -> tuple[dict[str, Tensor], bool]:
    """Algorithm 1's updates: train.d_steps of D, then G's; (statistics, whether every update applied)."""
    d_steps, applied = len(data), True
    for k, (real, labels) in enumerate(data):
        b = prepare(run, step, (step - 1) * d_steps + k, real, labels)
        d_stats, ok = d_update(run, b, last=k == d_steps - 1)
        applied &= ok
    g_stats, ok = g_update(run, b)  # on the last D update's batch and samples
    return {**d_stats, **g_stats}, applied and ok


def draw_data(run: Run) -> tuple[Tensor, Tensor | None]:
    """This process's shard of the next real batch [N, C, H, W] or [N, 2], and its labels [N] or None."""
    batch, d = run.cfg.train.batch_size, run.d
    shard = batch // d.world
    real, labels = run.data.next_batch(batch)
    if d.active:
        real = real[d.rank * shard : (d.rank + 1) * shard]
        labels = labels[d.rank * shard : (d.rank + 1) * shard] if labels is not None else None
    return real, labels


def prepare(run: Run, step: int, d_update: int, real: Tensor, labels: Tensor | None) -> Batch:
    """An update's batch: the real data, a latent z drawn on the device, and what the tricks make of them."""
    b = Batch(step, d_update, real, labels, latent(len(real), run.cfg.model.nz, run.device))
    for trick in run.tricks:
        trick.before_d(b)
    return b


def see(run: Run, x: Tensor, step: int) -> Tensor:
    """What D sees of x: x through every trick's view (augmentation, noise), in order."""
    for trick in run.tricks:
        x = trick.view(x, step)
    return x


def with_terms(loss: Tensor, terms: dict[str, Term]) -> Tensor:
    for term in terms.values():
        if term.loss is not None:
            loss = loss + term.loss
    return loss


def d_update(run: Run, b: Batch, last: bool) -> tuple[dict[str, Tensor], bool]:
    """One D update; the last one keeps G's graph, reused by G's update (as in the DCGAN example)."""
    with run.precision.autocast():
        with torch.set_grad_enabled(last):
            b.fake = run.G_train(b.z)
        b.real_in, b.fake_in = see(run, b.real, b.step), see(run, b.fake.detach(), b.step)
        b.real_out = run.D_train(b.real_in, b.y_real)
        b.fake_out = run.D_train(b.fake_in, b.y_fake)
        real_logits, fake_logits = b.real_out.logits.float(), b.fake_out.logits.float()  # losses in fp32
        loss_d = run.loss.d_loss(real_logits, fake_logits)
        terms = {name: t for trick in run.tricks for name, t in trick.d_terms(b, run).items()}
        total = with_terms(loss_d, terms)
    run.opt_d.zero_grad(set_to_none=True)
    applied = run.precision.backward_step(total, run.opt_d, "d")
    run.loss.after_d_step(run.D)
    with torch.no_grad():
        stats = {"loss/D": loss_d, "D/real": run.loss.prob(real_logits).mean()}
        stats["D/fake"] = run.loss.prob(fake_logits).mean()
    return stats | {name: t.value for name, t in terms.items()}, applied


def g_update(run: Run, b: Batch) -> tuple[dict[str, Tensor], bool]:
    """One G update against the frozen D."""
    run.D.requires_grad_(False)
    with run.precision.autocast():
        real_logits = None
        if run.loss.g_needs_real:  # relativistic losses
            real_logits = run.D_frozen(see(run, b.real, b.step), b.y_real).logits.float()
        b.fake_out = run.D_frozen(see(run, b.fake, b.step), b.y_fake)
        fake_logits = b.fake_out.logits.float()
        for trick in run.tricks:
            fake_logits = trick.g_logits(fake_logits, b.step, run.cfg.train.steps)
        loss_g = run.loss.g_loss(fake_logits, real_logits)
        terms = {name: t for trick in run.tricks for name, t in trick.g_terms(b, run).items()}
        total = with_terms(loss_g, terms)
    run.opt_g.zero_grad(set_to_none=True)
    applied = run.precision.backward_step(total, run.opt_g, "g")
    run.D.requires_grad_(True)
    return {"loss/G": loss_g} | {name: t.value for name, t in terms.items()}, applied
