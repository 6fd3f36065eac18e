"""SNGAN's ResNets equal kwotsin/mimicry's, number for number (tests/fixtures/mimicry/README.md: how the
fixtures were made, from which commit).

Two differences are on purpose, both where gan-cli follows SNGAN's official Chainer code
(pfnet-research/sngan_projection) and mimicry does not:
- G up-samples by nearest neighbour (Chainer's `F.unpooling_2d`, as the paper describes); mimicry
  interpolates bilinearly (its GBlock's docstring says so).
- In D's residual blocks the shortcut reads the block's input as it came; in mimicry the residual path's
  first `nn.ReLU(inplace=True)` overwrites that input, so its shortcut reads relu(x).
Each test runs gan-cli's network once with mimicry's behaviour swapped in, which must then equal mimicry to
a relative 1e-5, and once as it is, which must not (so the swap is what makes them equal).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gan_cli.nets import MODELS
from gan_cli.schema import ModelConfig
from tests.helpers import group_cfg

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mimicry"
SIZES = [32, 48, 64, 128]


def load(size: int):
    ref = torch.load(FIXTURES / f"sngan_{size}.pt", weights_only=True)
    cfg = group_cfg(ModelConfig, "resnet", nz=ref["nz"], ngf=ref["ngf"], ndf=ref["ndf"], d_norm="spectral")
    G, D = MODELS.build(cfg, (3, size, size))
    G.load_state_dict(ref["G"])  # strict: every name and shape matches mimicry's, converted
    D.load_state_dict(ref["D"])
    return G, D, ref


def close(ours: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Equal to a relative 1e-5 of the reference's largest magnitude (float32 sums in another order)."""
    return bool((ours - theirs).abs().max() <= 1e-5 * theirs.abs().max())


@pytest.fixture
def as_mimicry(monkeypatch):
    """mimicry's two differences swapped in: bilinear up-sampling in G (align_corners=False) and the
    shortcut of D's plain residual blocks reading relu(x)."""
    from gan_cli.nets import resnet

    plain, block = F.interpolate, resnet.DBlock.forward

    def bilinear(x, size=None, scale_factor=None, mode="nearest", align_corners=None, **kw):
        return plain(x, size, scale_factor, mode="bilinear", align_corners=False, **kw)

    def inplace_relu(self, x):
        return block(self, x if self.optimized else F.relu(x))  # relu(relu(x)) = relu(x) in the residual

    monkeypatch.setattr(F, "interpolate", bilinear)
    monkeypatch.setattr(resnet.DBlock, "forward", inplace_relu)


@pytest.mark.parametrize("size", SIZES)
def test_d_equals_mimicry_s_with_spectral_norm(size, as_mimicry):
    _, D, ref = load(size)
    with torch.no_grad():
        D.eval()  # the stored u and v, no power iteration
        assert close(D(ref["x"]).logits, ref["d_eval"])
        D.train()  # one power iteration from the stored vectors, in the order of SNGAN's code
        assert close(D(ref["x"]).logits, ref["d_train"])
    state = D.state_dict()
    for name, u in ref["d_u_after_train"].items():
        assert close(state[name], u), name


@pytest.mark.parametrize("size", SIZES)
def test_g_equals_mimicry_s_in_eval_and_training_mode(size, as_mimicry):
    G, _, ref = load(size)
    with torch.no_grad():
        G.eval()  # running statistics
        assert close(G(ref["z"]), ref["g_eval"])
        G.train()  # batch statistics
        assert close(G(ref["z"]), ref["g_train"])


@pytest.mark.parametrize("size", SIZES)
def test_without_the_swap_both_networks_differ_from_mimicry_s(size):
    G, D, ref = load(size)
    with torch.no_grad():
        G.eval(), D.eval()
        assert not close(G(ref["z"]), ref["g_eval"])
        assert not close(D(ref["x"]).logits, ref["d_eval"])
