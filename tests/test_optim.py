"""optim.py: optimizers by name, per-network rates and betas, the linear decay and its exact resume."""

from __future__ import annotations

import shutil

import pytest

from gan_cli import checkpoint
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    SMALL_MLP,
    assert_complete_run,
    assert_same,
    event_tags,
    make_cfg,
    train_run,
)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_optimizers_and_ttur(tmp_path, optimizer):
    out, _ = train_run(
        tmp_path,
        [
            "dataset=ring",
            "model=mlp",
            f"optimizer={optimizer}",
            "optimizer.lr_d=4e-4",
            "optimizer.lr_g=1e-4",
            *SMALL_MLP,
        ],
    )
    _, state, tags = assert_complete_run(out)
    assert state["opt_g"]["param_groups"][0]["lr"] == 1e-4
    assert state["opt_d"]["param_groups"][0]["lr"] == 4e-4
    lr_g = tags["_acc"].Scalars("lr/G")[-1].value
    assert lr_g == pytest.approx(1e-4)


@pytest.mark.slow
def test_optimizer_lr_sets_both_networks_and_betas_split(tmp_path):
    out, _ = train_run(
        tmp_path,
        ["dataset=ring", "model=mlp", "optimizer.lr=3e-4", "optimizer.betas_d=[0.0,0.9]", *SMALL_MLP],
    )
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    g, d = state["opt_g"]["param_groups"][0], state["opt_d"]["param_groups"][0]
    assert g["lr"] == d["lr"] == 3e-4
    assert list(g["betas"]) == [0.5, 0.999] and list(d["betas"]) == [0.0, 0.9]


@pytest.mark.slow
def test_linear_decay_follows_the_step_and_resumes_exactly(tmp_path):
    base = [*FAST, *RING, "model.pac=2", "optimizer.lr_decay=linear", "loss.r1_gamma=0.1", "loss=ragan"]
    whole = tmp_path / "whole"
    train(make_cfg([*base, "train.steps=8"]), whole)
    ckpt = checkpoint.load(whole / "checkpoints" / "last.pt")
    lr = ckpt["opt_g"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(2e-4 * (1 - 7 / 8))  # the lr used by step 8 of 8
    lrs = [e.value for e in event_tags(whole)["_acc"].Scalars("lr/D")]
    assert lrs == sorted(lrs, reverse=True) and len(set(lrs)) == len(lrs)
    # an interruption at step 4 (the step-4 checkpoint put back as last.pt), resumed: equal to the whole run
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000003.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*base, "train.steps=8", f"resume={half}"]), tmp_path / "unused")
    a, b = (checkpoint.load(r / "checkpoints" / "last.pt") for r in (whole, half))
    assert a.pop("config")["train"]["steps"] == b.pop("config")["train"]["steps"] == 8
    assert_same(a, b)
