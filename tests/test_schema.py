"""schema.py: well-typed but meaningless values are refused, naming the key."""

from __future__ import annotations

import pytest

from gan_cli.errors import ConfigError
from gan_cli.models import build_models
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    SMALL_DCGAN,
    make_cfg,
)


@pytest.mark.slow
def test_bad_values_are_refused_naming_the_key(tmp_path):
    for override, key in [
        ("optimizer.lr=-1", "optimizer.lr"),
        ("train.batch_size=0", "train.batch_size"),
        ("train.d_steps=0", "train.d_steps"),
        ("train.device=tpu", "train.device"),
        ("dataset.channels=2", "dataset.channels"),
        ("optimizer.betas=[0.5]", "optimizer.betas"),
    ]:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            train(make_cfg([override]), tmp_path / "never")
    assert not (tmp_path / "never").exists()  # refused before anything was written


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, key",
    [
        ("model.g_norm=layer", "model.g_norm"),
        ("model.latent_classes=-1", "model.latent_classes"),
        ("model.d_fourier_scale=0", "model.d_fourier_scale"),
        ("train.instance_noise=-0.1", "train.instance_noise"),
        ("train.instance_noise_until=0", "train.instance_noise_until"),
        ("train.instance_noise_schedule=cosine", "train.instance_noise_schedule"),
    ],
)
def test_new_model_and_noise_keys_refuse_bad_values(tmp_path, override, key):
    with pytest.raises(ConfigError, match=key):
        train(make_cfg([*FAST, *RING, override]), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_mlp_only_options_are_refused_on_dcgan_and_the_categorical_latent_is_not(tmp_path):
    with pytest.raises(ConfigError, match="model.name"):
        train(make_cfg([*FAST, *SMALL_DCGAN, "dataset=fake", "model.d_fourier=8"]), tmp_path / "run")
    summary = train(
        make_cfg([*FAST, *SMALL_DCGAN, "dataset=fake", "model.latent_classes=4"]), tmp_path / "cat"
    )
    assert summary["status"] == "completed"
    G, _ = build_models(make_cfg([*SMALL_DCGAN, "dataset=fake", "model.latent_classes=4"]), (1, 8, 8))
    assert G.G.main[0].in_channels == 4 + 16 - 1
    with pytest.raises(ConfigError, match="model.nz"):
        train(make_cfg([*FAST, *RING, "model.nz=1", "model.latent_classes=4"]), tmp_path / "run2")
