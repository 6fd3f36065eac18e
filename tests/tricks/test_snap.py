"""mlp's snap points (model.g_snap, gan_cli/nets/mlp.py SnapOutput and tricks/snap.py)."""

from __future__ import annotations

import shutil

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.losses import build_loss
from gan_cli.models import build_models
from gan_cli.nets.mlp import SNAP_SCALE, SnapOutput
from gan_cli.train import train
from gan_cli.tricks import Batch, build_tricks
from tests.helpers import FAST, RING, assert_same, make_cfg

SNAP = ["model.g_snap=8", "model.g_snap_last=0.5"]  # with FAST's 6 steps: steps 4, 5 and 6 snap


def test_snap_layer_passes_through_until_set_then_gives_the_nearest_point_which_d_trains():
    layer = SnapOutput(3, 2)
    x = torch.tensor([[0.9, 1.2], [-2.0, -1.9], [5.0, 0.1]], requires_grad=True)
    assert torch.equal(layer(x), x)  # not set: G's own output
    layer.set_points(torch.tensor([[1.0, 1.0], [-2.0, -2.0], [4.0, 0.0]]))
    out = layer(x)
    assert torch.allclose(out, torch.tensor([[1.0, 1.0], [-2.0, -2.0], [4.0, 0.0]]))
    (out * torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    assert x.grad is None  # G's continuous part no longer learns
    assert torch.equal(layer.points.grad, SNAP_SCALE * torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    fresh = SnapOutput(3, 2)
    fresh.load_state_dict(layer.state_dict())  # a saved G snaps as it trained (gan-sample, resume)
    assert fresh.on and torch.allclose(fresh(x.detach()), out.detach())


def test_points_are_set_from_gs_own_outputs_at_the_first_step_of_the_last_fraction():
    cfg = make_cfg([*FAST, *RING, *SNAP])
    (trick,) = [t for t in build_tricks(cfg, build_loss(cfg.loss)) if t.name == "snap"]
    G, _ = build_models(cfg, (2,))
    trick.prepare(G, None, None)
    seen = []
    for step in range(1, 7):
        trick.before_d(Batch(step, step - 1, torch.zeros(1, 2), None, torch.zeros(1, cfg.model.nz)))
        seen.append(G.snap.on)
        if step == 4:
            first = G.snap.points.detach().clone()
    assert seen == [False, False, False, True, True, True]
    assert torch.equal(G.snap.points, first)  # set once, then only trained
    G.eval()
    samples = G(torch.randn(64, cfg.model.nz))
    points = SNAP_SCALE * first  # (stored at 1/SNAP_SCALE)
    assert all((points == s).all(dim=1).any() for s in samples)  # every sample is one of the points
    assert len(torch.unique(points, dim=0)) == 8  # G's outputs on 8 different latents


def test_snap_keys_are_checked():
    from gan_cli.errors import ConfigError

    for bad, key in (
        (["model.g_snap=-1"], "model.g_snap"),
        (["model.g_snap=8", "model.g_snap_last=0"], "model.g_snap_last"),
        (["model.g_snap=8", "model.latent_classes=4"], "model.g_snap"),
    ):
        with pytest.raises(ConfigError, match=key):
            from gan_cli import schema

            schema.check(make_cfg([*RING, *bad]))


@pytest.mark.slow
def test_a_run_that_snaps_resumes_exactly_and_its_samples_are_its_points(tmp_path):
    from gan_cli.sample import main as gan_sample

    base = [*FAST, *RING, *SNAP, "train.ckpt_every=2", "train.ema=true", "train.device=cpu"]
    whole = tmp_path / "whole"
    train(make_cfg(base), whole)
    state = checkpoint.load(whole / "checkpoints" / "last.pt")
    assert state["G"]["snap.ready"] and state["G_ema"]["snap.ready"]
    # G_ema got the points when they were set and has averaged G's training of them since
    assert (state["G_ema"]["snap.points"] - state["G"]["snap.points"]).abs().max() < 0.1
    for at in ("step_000002.pt", "step_000004.pt"):  # before the switch and after it
        half = tmp_path / at
        shutil.copytree(whole, half)
        shutil.copy(half / "checkpoints" / at, half / "checkpoints" / "last.pt")
        train(make_cfg([*base, f"resume={half}"]), tmp_path / "unused")
        assert_same(state, checkpoint.load(half / "checkpoints" / "last.pt"))
    gan_sample([f"run={whole}", "num=40", f"out={tmp_path / 'x.npy'}"])
    import numpy as np

    samples = torch.from_numpy(np.load(tmp_path / "x.npy")).float().reshape(40, 2)
    points = SNAP_SCALE * state["G_ema"]["snap.points"].float()
    assert torch.cdist(samples, points).min(dim=1).values.max() < 1e-4


@pytest.mark.slow
def test_the_grid25_preset_trains_and_samples_gs_own_points(tmp_path):
    """experiment=grid25 end to end, shortened: the snap phase starts, and gan-sample draws G's own samples
    (no rejection sampler is fitted, so rejection=auto and rejection=false give the same)."""
    import numpy as np

    from gan_cli.sample import main as gan_sample

    short = ["train.steps=8", "train.batch_size=32", "train.eval_every=0", "train.sample_every=0"]
    run = tmp_path / "run"
    train(make_cfg(["experiment=grid25", *short, "train.device=cpu"]), run)
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    assert state["G"]["snap.ready"]  # steps 7 and 8 snapped
    for how in ("auto", "false"):
        gan_sample([f"run={run}", "num=64", f"out={tmp_path / f'{how}.npy'}", f"rejection={how}"])
    auto, plain = (np.load(tmp_path / f"{how}.npy") for how in ("auto", "false"))
    assert np.array_equal(auto, plain)
    points = SNAP_SCALE * state["G"]["snap.points"].float()
    assert torch.cdist(torch.from_numpy(auto).float().reshape(64, 2), points).min(dim=1).values.max() < 1e-4
