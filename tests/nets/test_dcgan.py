"""nets/dcgan.py: the classic example at 64x64, every size, the MNIST networks, mbstd, class batch norm."""

from __future__ import annotations

import shutil

import pytest
import torch
from torch import nn

from benchmarks.reference import ClassicDiscriminator, ClassicGenerator
from gan_cli import checkpoint, schema
from gan_cli.errors import ConfigError
from gan_cli.models import build_models
from gan_cli.nets import MODELS
from gan_cli.schema import ModelConfig
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    SMALL_DCGAN,
    assert_same,
    group_cfg,
    make_cfg,
)


def model_cfg(name: str, **kw):
    return group_cfg(ModelConfig, name, **kw)


def test_dcgan_at_64_is_exactly_the_classic_example():
    G, D = MODELS.build(model_cfg("dcgan"), (3, 64, 64))
    ref_G, ref_D = ClassicGenerator(), ClassicDiscriminator()
    # Same parameters and buffers, name by name and shape by shape...
    assert {k: v.shape for k, v in G.state_dict().items()} == {
        k: v.shape for k, v in ref_G.state_dict().items()
    }
    assert {k: v.shape for k, v in D.state_dict().items()} == {
        k: v.shape for k, v in ref_D.state_dict().items()
    }
    assert sum(p.numel() for p in G.parameters()) == 3_576_704
    assert sum(p.numel() for p in D.parameters()) == 2_765_568
    # ...and the same function: with the same weights, same outputs (ours are logits, theirs sigmoid).
    ref_G.load_state_dict(G.state_dict())
    ref_D.load_state_dict(D.state_dict())
    G.eval(), D.eval(), ref_G.eval(), ref_D.eval()
    z = torch.randn(4, 100)
    with torch.no_grad():
        fake = G(z)
        assert torch.allclose(fake, ref_G(z.view(4, 100, 1, 1)), atol=1e-6)
        assert torch.allclose(torch.sigmoid(D(fake).logits), ref_D(fake), atol=1e-6)


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_adapts_to_size_and_channels(size, channels):
    G, D = MODELS.build(model_cfg("dcgan", ngf=8, ndf=8, nz=12), (channels, size, size))
    fake = G(torch.randn(5, 12))
    assert fake.shape == (5, channels, size, size)
    assert fake.min() >= -1 and fake.max() <= 1  # tanh output, like the data
    assert D(fake).logits.shape == (5,)


def test_dcgan_at_28_is_the_small_mnist_dcgan():
    G, D = MODELS.build(model_cfg("dcgan"), (1, 28, 28))
    linear_g = [m.out_features for m in G.modules() if isinstance(m, nn.Linear)]
    assert linear_g == [1024, 7 * 7 * 128]
    convs_g = [
        (m.in_channels, m.out_channels, m.kernel_size, m.stride)
        for m in G.modules()
        if isinstance(m, nn.ConvTranspose2d)
    ]
    assert convs_g == [(128, 64, (4, 4), (2, 2)), (64, 1, (4, 4), (2, 2))]
    convs_d = [(m.out_channels, m.kernel_size) for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs_d == [(32, (5, 5)), (64, (5, 5))]
    assert [m.out_features for m in D.modules() if isinstance(m, nn.Linear)] == [1024, 1]
    assert [m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)] == [0.01] * 3
    assert sum(isinstance(m, nn.MaxPool2d) for m in D.modules()) == 2


def test_dcgan_d_norm_options():
    for norm, kind in (("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm)):
        _, D = MODELS.build(model_cfg("dcgan", d_norm=norm, ngf=8, ndf=8), (1, 32, 32))
        assert any(isinstance(m, kind) for m in D.modules())
    _, D = MODELS.build(model_cfg("dcgan", d_norm="none", ngf=8, ndf=8), (1, 32, 32))
    assert not any(isinstance(m, nn.BatchNorm2d | nn.GroupNorm) for m in D.modules())


def test_dcgan_refuses_sizes_it_cannot_build_and_points():
    with pytest.raises(ConfigError, match="image_size=24"):
        MODELS.build(model_cfg("dcgan"), (1, 24, 24))
    with pytest.raises(ConfigError, match="model=mlp"):
        MODELS.build(model_cfg("dcgan"), (2,))


@pytest.mark.slow
def test_minibatch_std_known_values_and_d_mbstd(tmp_path):
    from gan_cli.nets.dcgan import MinibatchStd

    x = torch.zeros(4, 2, 3, 3)
    x[2] = 2.0  # groups of 2: samples (0, 2) differ by 2 everywhere (std 1), samples (1, 3) are equal
    out = MinibatchStd(2)(x)
    assert out.shape == (4, 3, 3, 3) and torch.equal(out[:, :2], x)
    assert torch.allclose(out[0, 2], torch.ones(3, 3)) and torch.allclose(out[2, 2], torch.ones(3, 3))
    assert out[1, 2].max().item() == pytest.approx(1e-4)  # identical samples: sqrt(0 + 1e-8)
    assert MinibatchStd(4)(torch.randn(6, 1, 2, 2)).shape == (6, 2, 2, 2)  # 4 does not divide 6: groups of 3
    cfg = make_cfg([*SMALL_DCGAN, "dataset=fake", "model.d_mbstd=4"])
    _, D = build_models(cfg, (1, 8, 8))
    assert isinstance(D.main[-2], MinibatchStd) and D.main[-1].in_channels == 8 + 1  # ndf=8 at 8x8
    assert train(make_cfg([*FAST, *SMALL_DCGAN, "dataset=fake", "model.d_mbstd=4"]), tmp_path / "r")[
        "status"
    ] == ("completed")
    with pytest.raises(ConfigError, match="model.d_mbstd"):
        train(make_cfg([*FAST, *RING, "model.d_mbstd=4"]), tmp_path / "bad")


def test_dcgan_dropout_and_the_28x28_minibatch_std():
    from gan_cli.nets.dcgan import MinibatchStd

    x = torch.randn(8, 1, 28, 28)
    _, plain = MODELS.build(model_cfg("dcgan"), (1, 28, 28))
    _, D = MODELS.build(model_cfg("dcgan", dropout=0.5, d_mbstd=4), (1, 28, 28))
    assert not any(isinstance(m, nn.Dropout | MinibatchStd) for m in plain.modules())
    assert sum(isinstance(m, nn.Dropout) for m in D.modules()) == 3  # after each hidden activation
    mbstd = [i for i, m in enumerate(D.main) if isinstance(m, MinibatchStd)]
    assert len(mbstd) == 1 and isinstance(D.main[mbstd[0] + 1], nn.Flatten)  # on the 4x4 features
    assert D.main[mbstd[0] + 2].in_features == 4 * 4 * (64 + 1)
    assert D(x).logits.shape == (8,)
    D.eval()  # dropout off: D is a function of x
    assert torch.equal(D(x).logits, D(x).logits)
    D.train()  # dropout on: two passes over the same batch differ
    assert not torch.equal(D(x).logits, D(x).logits)
    _, D64 = MODELS.build(model_cfg("dcgan", dropout=0.3), (3, 16, 16))
    drops = [m for m in D64.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 2 and all(m.p == 0.3 for m in drops)  # 16x16: two hidden activations
    with pytest.raises(ConfigError, match="model.dropout"):
        schema.check(make_cfg(["model=resnet", "model.dropout=0.2"]))


@pytest.mark.slow
def test_class_batch_norm_known_values_and_g_class_norm(tmp_path):
    from gan_cli.nets import latent
    from gan_cli.nets.dcgan import ClassBatchNorm2d

    bn = ClassBatchNorm2d(2, 3)
    x = torch.randn(6, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    y = nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    plain = nn.functional.batch_norm(x, None, None, training=True)
    with torch.no_grad():
        bn.scale.weight.zero_()
        bn.shift.weight.zero_()
        assert torch.allclose(bn(x, y), plain, atol=1e-6)  # W = 0: plain batch norm
        bn.scale.weight[:, 1] = torch.tensor([1.0, -0.5])  # class 1: channel 0 doubled, channel 1 halved
        bn.shift.weight[:, 2] = torch.tensor([3.0, 0.0])  # class 2: channel 0 shifted by 3
        out = bn(x, y)
    want = plain.clone()
    want[[1, 4], 0] *= 2
    want[[1, 4], 1] *= 0.5
    want[[2, 5], 0] += 3
    assert torch.allclose(out, want, atol=1e-5)

    over = [*SMALL_DCGAN, "dataset=fake", "model.latent_classes=3", "model.g_class_norm=true"]
    G, _ = build_models(make_cfg(over), (1, 16, 16))  # 16x16: two batch norms
    norms = [m for m in G.modules() if isinstance(m, ClassBatchNorm2d)]
    assert len(norms) == 2 and not any(isinstance(m, nn.BatchNorm2d) and m.affine for m in G.modules())
    with torch.no_grad():  # a shift of class 1 in the last norm changes class 1's images, no other's
        z = latent(12, G.G.nz - 3 + 1, torch.device("cpu"), torch.Generator().manual_seed(0))
        before = G.eval()(z)
        norms[-1].shift.weight[:, 1] += 1.0
        changed = (G(z) - before).abs().amax(dim=(1, 2, 3)) > 1e-6
    assert changed.tolist() == (G.classes_of(z) == 1).tolist() and changed.any() and not changed.all()

    run = [*FAST, *over, "train.steps=6", "train.ckpt_every=3"]
    whole = tmp_path / "whole"
    train(make_cfg(run), whole)
    state = checkpoint.load(whole / "checkpoints" / "last.pt")
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000003.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*run, f"resume={half}"]), tmp_path / "unused")
    assert_same(state, checkpoint.load(half / "checkpoints" / "last.pt"))
    # where it cannot apply it is not refused (the digits recipe sets it; `gan-train model=mlp` must still run
    # on the digits) but named in a warning, and the networks are the plain ones
    from gan_cli import schema

    assert schema.unused(make_cfg(over), (1, 16, 16)) == []
    for other, why in ((["model.latent_classes=0"], "with model.latent_classes=0"), (RING, "with model=mlp")):
        (note,) = schema.unused(make_cfg([*over, *other]), (1, 16, 16))
        assert note.startswith("model.g_class_norm=true has no effect " + why)
    (note,) = schema.unused(make_cfg(over), (1, 28, 28))
    assert note.startswith("model.g_class_norm=true has no effect at 28x28")
    for other, shape in ((["model.latent_classes=0"], (1, 16, 16)), ([], (1, 28, 28))):
        G, _ = build_models(make_cfg([*over, *other]), shape)
        assert not any(isinstance(m, ClassBatchNorm2d) for m in G.modules())
