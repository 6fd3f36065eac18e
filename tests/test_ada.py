"""ada.py and tricks/ada.py: StyleGAN2-ADA's bgc pipe against the official one, its draws against their
spec, the controller's rule, and training, logging and resuming with it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.ada import AugmentPipe, Draw
from gan_cli.errors import ConfigError
from gan_cli.nets import DOut
from gan_cli.train import train
from gan_cli.tricks import Batch
from gan_cli.tricks.ada import Ada
from tests.helpers import FAST, RING, SMALL_DCGAN, assert_same, event_tags, make_cfg

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ada" / "augment_pipe.pt"


@pytest.mark.parametrize("channels", [1, 3])
def test_the_pipe_equals_the_official_augment_pipe_for_fixed_draws(channels):
    """tests/fixtures/ada/README.md: the official AugmentPipe (bgc) with every draw at one quantile."""
    ref = torch.load(FIXTURE, weights_only=True)
    pipe, x = AugmentPipe(), ref[f"images_{channels}"]
    for k, q in enumerate(ref["quantiles"].tolist()):
        theirs = ref[f"out_{channels}"][k]
        ours = pipe(x, 1.0, percentile=q)
        assert (ours - theirs).abs().max() <= 1e-5 * theirs.abs().max(), q
        assert not torch.allclose(ours, x, atol=0.05)  # (and it did transform them)


@pytest.mark.parametrize("channels", [1, 3])
def test_p_zero_is_the_identity_bit_for_bit(channels):
    torch.manual_seed(0)
    x = torch.rand(16, channels, 12, 12) * 2 - 1
    assert torch.equal(AugmentPipe()(x, 0.0), x)
    assert torch.equal(AugmentPipe()(x, torch.tensor(0.0)), x)


def draws(n: int, p: float, on: bool = False) -> dict:
    """Every op's draws for n RGB images at p, as the pipe makes them (without transforming anything)."""
    pipe, d = AugmentPipe(), Draw(n, torch.tensor(p), torch.device("cpu"), None)
    pipe.geometry(d, 8, 8)
    pipe.colour(d, 3)
    return d.params if on else {name: param for name, (param, _) in d.params.items()}


def test_at_p_one_each_op_follows_its_spec():
    torch.manual_seed(0)
    n = 20000
    d = draws(n, 1.0)
    assert d["xflip"].mean() == pytest.approx(0.5, abs=0.02)  # flipped or not
    assert torch.bincount(d["rotate90"].long(), minlength=4).float().div(n).sub(0.25).abs().max() < 0.02
    assert d["xint"].abs().max() <= 0.125 and d["xint"].std() == pytest.approx(0.125 / math.sqrt(3), rel=0.05)
    for name, std in (("scale", 0.2), ("aniso", 0.2), ("contrast", 0.5), ("saturation", 1.0)):
        assert torch.log2(d[name]).std() == pytest.approx(std, rel=0.05), name  # lognormal (base 2)
        assert torch.log2(d[name]).mean() == pytest.approx(0.0, abs=0.03), name
    for name in ("rotate_pre", "rotate_post", "hue"):  # uniform over the whole circle
        assert d[name].abs().max() <= math.pi and d[name].std() == pytest.approx(
            math.pi / math.sqrt(3), rel=0.05
        )
    assert d["xfrac"].std() == pytest.approx(0.125, rel=0.05) and d["brightness"].std() == pytest.approx(
        0.2, rel=0.05
    )
    assert d["lumaflip"].mean() == pytest.approx(0.5, abs=0.02)


def test_at_p_each_op_is_on_for_that_share_of_images_and_rotation_for_p_overall():
    torch.manual_seed(1)
    n, p = 20000, 0.3
    last = draws(n, p, on=True)
    for name, (_, on) in last.items():
        if not name.startswith("rotate_"):
            assert on.float().mean() == pytest.approx(p, abs=0.015), name
    either = last["rotate_pre"][1] | last["rotate_post"][1]  # P(pre or post) = p
    assert either.float().mean() == pytest.approx(p, abs=0.015)


def test_geometric_ops_leave_no_borders_and_keep_the_range():
    """Reflection padding: a flat image stays flat under any transform; a textured one stays in range."""
    torch.manual_seed(2)
    pipe = AugmentPipe()
    flat = torch.full((64, 1, 16, 16), 0.7)
    G_inv, on = pipe.geometry(Draw(64, torch.tensor(1.0), torch.device("cpu"), None), 16, 16)
    assert on.all()
    out = pipe.resample(flat, G_inv)
    # no black border: a zero-filled corner would be off by 0.7; the official padding is capped at the
    # image's size, so an extreme transform's corner pixel may read a little beyond it (about 1%)
    off = (out - flat).abs()
    assert off.max() < 0.05 and (off > 1e-3).float().mean() < 0.001
    # a smooth image in [-1, 1] (as images are, unlike white noise) stays there, up to slight ringing
    x = torch.nn.functional.interpolate(torch.rand(64, 1, 4, 4) * 2 - 1, size=16, mode="bilinear")
    out = pipe.resample(x, G_inv)
    assert out.min() >= -1.05 and out.max() <= 1.05


def test_gradients_reach_g_through_the_augmentation():
    torch.manual_seed(3)
    G = torch.nn.Sequential(torch.nn.Linear(4, 3 * 8 * 8), torch.nn.Tanh(), torch.nn.Unflatten(1, (3, 8, 8)))
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 1))
    out = D(AugmentPipe()(G(torch.randn(8, 4)), 1.0)).sum()
    grads = torch.autograd.grad(out, list(G.parameters()))
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


def ada(p: float = 0.0) -> Ada:
    return Ada(True, p, target=0.6, interval=4, kimg=500, batch=64, dataset="digits")


def feed(trick: Ada, step: int, logits: torch.Tensor) -> dict:
    b = Batch(step, step - 1, torch.zeros(4, 1, 8, 8), None, torch.zeros(4, 2), real_out=DOut(logits))
    trick.d_terms(b, None)
    return trick.g_terms(b, None)


def test_the_controller_moves_p_by_the_official_rule():
    """Every 4 steps p += sign(r_t - 0.6) * batch * interval / (ada_kimg * 1000), floored at 0."""
    trick, rate = ada(), 64 * 4 / (500 * 1000)
    for step in range(1, 9):  # D sure of every real image: r_t = 1, p rises at steps 4 and 8
        terms = feed(trick, step, torch.full((64,), 3.0))
    assert trick.p.item() == pytest.approx(2 * rate, rel=1e-6) and trick.rt.item() == 1.0
    assert (
        terms["augment/p"].value.item() == pytest.approx(2 * rate, rel=1e-6)
        and terms["augment/p"].loss is None
    )
    for step in range(9, 13):  # half the signs positive: r_t = 0, under the target, p falls
        feed(trick, step, torch.tensor([1.0, -1.0] * 32))
    assert trick.p.item() == pytest.approx(rate, rel=1e-6) and trick.rt.item() == 0.0
    for step in range(13, 25):  # D unsure: p falls to 0 and stays there
        feed(trick, step, -torch.ones(64))
    assert trick.p.item() == 0.0
    fixed = Ada(False, 0.3, 0.6, 4, 500, 64, "digits")
    for step in range(1, 9):
        feed(fixed, step, torch.full((64,), 3.0))
    assert fixed.p.item() == pytest.approx(0.3)  # fixed: p stays


def test_bad_settings_are_refused_by_name(tmp_path):
    for overrides, key in (
        (["train.augment=sometimes"], "train.augment"),
        (["train.augment=ada", "train.diffaug=[translation]"], "train.augment"),
        (["train.augment_p=1.5"], "train.augment_p"),
        (["train.augment=ada", "train.ada_target=1.0"], "train.ada_target"),
        (["train.augment=ada", "train.ada_interval=0"], "train.ada_interval"),
    ):
        with pytest.raises(ConfigError, match=key):
            train(make_cfg([*FAST, *SMALL_DCGAN, *overrides]), tmp_path / "bad")
    with pytest.raises(ConfigError, match="augments images"):
        train(make_cfg([*FAST, *RING, "train.augment=ada"]), tmp_path / "points")
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_ada_trains_logs_p_and_resumes_bit_for_bit(tmp_path):
    base = [
        *FAST,
        *SMALL_DCGAN,
        "recipe=none",
        "train.augment=ada",
        "train.ada_kimg=0.5",
        "train.ada_interval=2",
    ]
    base += ["train.log_every=2", "train.ckpt_every=4"]
    full = tmp_path / "full"
    train(make_cfg([*base, "train.steps=8"]), full)
    part = tmp_path / "part"
    train(make_cfg([*base, "train.steps=4"]), part)
    train(make_cfg([*base, "train.steps=8", f"resume={part}"]), tmp_path / "x")
    a, b = (checkpoint.load(r / "checkpoints" / "last.pt") for r in (full, part))
    assert a["tricks"]["ada"]["p"].item() > 0  # D was sure of the few real images: p rose
    assert_same(a, b)  # p, r_t and the sign counts restored; the augmentations drew the same numbers
    tags = event_tags(full)["scalars"]
    assert "augment/p" in tags and "augment/rt" in tags
    summary = json.loads((full / "summary.json").read_text())  # the last logged p and r_t, for the rows
    assert summary["augment_p"] == pytest.approx(a["tricks"]["ada"]["p"].item())
    assert -1 <= summary["augment_rt"] <= 1


def test_fixed_augmentation_with_p_one_changes_what_d_sees(tmp_path, monkeypatch):
    seen = []
    original = Ada.view

    def spy(self, x, step):
        out = original(self, x, step)
        seen.append((x.detach().clone(), out.detach().clone()))
        return out

    monkeypatch.setattr(Ada, "view", spy)
    train(
        make_cfg([*FAST, *SMALL_DCGAN, "train.steps=1", "train.augment=fixed", "train.augment_p=1"]),
        tmp_path / "r",
    )
    assert len(seen) == 3  # real and generated in D's update, generated in G's
    assert all(not torch.equal(x, out) for x, out in seen)


def test_the_trick_s_state_round_trips():
    trick = ada(0.25)
    trick.signs += torch.tensor([3.0, 8.0])
    state = trick.state_dict()
    other = ada()
    other.load_state_dict(state)
    assert other.p.item() == 0.25 and torch.equal(other.signs, torch.tensor([3.0, 8.0]))
    assert all(isinstance(v, torch.Tensor) for v in state.values())  # loads with weights_only


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_under_bf16_autocast_the_images_keep_their_dtype(dtype):
    """Training in bf16 augments fp32 real images and bf16 generated ones inside autocast."""
    torch.manual_seed(4)
    x = (torch.rand(16, 1, 12, 12) * 2 - 1).to(dtype)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for p in (0.3, 1.0):
            out = AugmentPipe()(x, p)
            assert out.dtype == dtype and out.shape == x.shape and torch.isfinite(out.float()).all()


def test_r_t_judges_d_s_outputs_against_the_loss_s_boundary():
    """LSGAN's D aims at 1 for real and 0 for fake: an output of 0.3 on a real image is a 'fake' verdict.
    Judged against 0 (the logit's sign), r_t would be 1 whatever D does and p would only grow."""
    from gan_cli.losses import build_loss
    from gan_cli.tricks import build_tricks

    cfg = make_cfg([*FAST, *SMALL_DCGAN, "loss=lsgan", "train.augment=ada"])
    (trick,) = [t for t in build_tricks(cfg, build_loss(cfg.loss)) if t.name == "ada"]
    assert trick.boundary == 0.5
    for step in range(1, 5):
        feed(trick, step, torch.full((64,), 0.3))  # below LSGAN's midpoint: D unsure of the reals
    assert trick.rt.item() == -1.0 and trick.p.item() == 0.0
    cfg = make_cfg([*FAST, *SMALL_DCGAN, "train.augment=ada"])  # the log loss: the logit's sign
    assert [t for t in build_tricks(cfg, build_loss(cfg.loss)) if t.name == "ada"][0].boundary == 0.0
