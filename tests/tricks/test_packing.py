"""tricks/packing.py: PacGAN's D sees consecutive samples side by side."""

from __future__ import annotations

import pytest
import torch

from gan_cli.errors import ConfigError
from gan_cli.models import build_models
from gan_cli.nets import Packed, single
from gan_cli.schema import ModelConfig
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    SMALL_DCGAN,
    group_cfg,
    make_cfg,
    with_model,
)


def test_packed_discriminator_sees_consecutive_samples_side_by_side():
    cfg = with_model(group_cfg(ModelConfig, "mlp", nz=4, g_hidden=8, d_hidden=8, pac=3))
    G, D = build_models(cfg, (2,))
    assert isinstance(D, Packed) and D.D.net[1].linear.in_features == 6
    x = torch.randn(6, 2)
    assert torch.equal(D(x).logits, D.D(torch.cat([x[0:3].flatten()[None], x[3:6].flatten()[None]])).logits)
    with pytest.raises(ValueError, match="multiple"):
        D(torch.randn(4, 2))
    assert torch.equal(single(D, x[:2]), D.D(x[:2].repeat_interleave(3, 0).reshape(2, 6)).logits)
    _, Dimg = build_models(
        with_model(group_cfg(ModelConfig, "dcgan", ngf=8, ndf=8, nz=8, pac=2)), (3, 16, 16)
    )
    assert Dimg(torch.randn(4, 3, 16, 16)).logits.shape == (2,)
    G1, D1 = build_models(with_model(group_cfg(ModelConfig, "mlp", nz=4, g_hidden=8, d_hidden=8)), (2,))
    assert not isinstance(D1, Packed)


@pytest.mark.slow
def test_batch_must_be_a_multiple_of_pac(tmp_path):
    with pytest.raises(ConfigError, match="train.batch_size"):
        train(make_cfg([*FAST, *RING, "model.pac=4", "train.batch_size=10"]), tmp_path / "run")


@pytest.mark.slow
def test_pac_runs_end_to_end_on_images(tmp_path):
    out = tmp_path / "img"
    cfg = [*FAST, *SMALL_DCGAN, "model.conditional=false", "model.pac=2", "loss=ragan", "train.eval_every=3"]
    train(make_cfg(cfg), out)
    assert (out / "checkpoints" / "last.pt").is_file()
