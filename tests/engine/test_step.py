"""engine/step.py: one step of Algorithm 1 calls the tricks' hooks at their places and never names one."""

from __future__ import annotations

from pathlib import Path

import torch

from gan_cli.engine.distributed import Dist
from gan_cli.engine.setup import build_run, seed_everything
from gan_cli.engine.step import train_step
from gan_cli.tricks import Batch, Term, Trick
from tests.helpers import FAST, RING, make_cfg


class Spy(Trick):
    """A trick that records each hook call and adds a known term to each loss."""

    name = "spy"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def before_d(self, b: Batch) -> None:
        self.calls.append("before_d")
        b.z[:, 0] = 0.0  # what G gets: the step must pass this z on

    def view(self, x, step):
        self.calls.append("view")
        return x

    def d_terms(self, b, run):
        self.calls.append("d_terms")
        assert b.real_out is not None and b.fake_out is not None and (b.z[:, 0] == 0).all()
        return {"loss/spy_d": Term(torch.zeros((), requires_grad=True) + 0.0, torch.tensor(7.0))}

    def g_logits(self, fake_logits, step, steps):
        self.calls.append("g_logits")
        return fake_logits

    def g_terms(self, b, run):
        self.calls.append("g_terms")
        return {"loss/spy_g": Term(None, torch.tensor(3.0))}


def small_run(overrides: list[str]):
    cfg = make_cfg([*FAST, *RING, *overrides])
    seed_everything(0)
    return build_run(cfg, Path("unused"), torch.device("cpu"), None, Dist())


def test_the_step_calls_every_hook_in_order_and_logs_the_terms_by_name():
    run = small_run(["train.d_steps=2"])
    spy = Spy()
    run.tricks.append(spy)
    before = [p.detach().clone() for p in run.G.parameters()]
    stats = train_step(run, 1)
    per_d_update = ["before_d", "view", "view", "d_terms"]
    assert spy.calls == per_d_update * 2 + ["view", "g_logits", "g_terms"]  # k = 2 D updates, then G
    assert {"loss/D", "loss/G", "D/real", "D/fake"} <= stats.keys()
    assert stats["loss/spy_d"].item() == 7.0 and stats["loss/spy_g"].item() == 3.0
    assert any(not torch.equal(a, b) for a, b in zip(before, run.G.parameters(), strict=True))  # G learned


def test_a_relativistic_loss_shows_d_the_real_batch_in_g_s_update_too():
    run = small_run(["loss=ragan"])
    spy = Spy()
    run.tricks.append(spy)
    train_step(run, 1)
    # real and fake in D's update, real and fake in G's
    assert spy.calls == ["before_d", "view", "view", "d_terms", "view", "view", "g_logits", "g_terms"]
