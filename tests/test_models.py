"""models.py: networks built from a whole run config, old configs included; unknown names listed."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from gan_cli.errors import ConfigError
from gan_cli.models import build_models
from gan_cli.nets import MODELS, Packed


def test_unknown_model_lists_known():
    with pytest.raises(ConfigError, match="dcgan, mlp, resnet"):
        MODELS.get("stylegan")


def test_old_configs_without_the_new_keys_still_build():
    keys = {"nz": 4, "g_hidden": 8, "g_layers": 1, "d_hidden": 8, "d_layers": 1, "maxout_pieces": 2}
    model = {"name": "mlp", "dropout": 0.0, **keys}  # a checkpoint's config from before pac and the tricks
    groups = {"loss": {"name": "nonsaturating"}, "dataset": {"name": "ring"}, "train": {}}
    cfg = OmegaConf.create({"model": model, **groups})
    G, D = build_models(cfg, (2,))
    assert not isinstance(D, Packed)
