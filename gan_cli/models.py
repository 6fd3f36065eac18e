"""The networks a config describes: the architecture (conf/model/) inside the wrappers of the network
tricks it turns on. Training, gan-sample, gan-eval and rejection sampling all build them here."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf
from torch import nn

from gan_cli.losses import build_loss
from gan_cli.nets import MODELS
from gan_cli.tricks import Trick, build_tricks


def build_models(
    cfg: Any, shape: tuple[int, ...], tricks: list[Trick] | None = None
) -> tuple[nn.Module, nn.Module]:
    """(G, D) for one sample's shape, from the whole run config (`tricks`: the run's, when already built).
    D takes model.pac samples at once when packing; G's input is as wide as the tricks make it."""
    if tricks is None:
        tricks = build_tricks(cfg, build_loss(cfg.loss))
    nz = int(cfg.model.nz)
    for trick in tricks:
        nz = trick.g_input(nz)
    model_cfg = OmegaConf.merge(cfg.model, {"nz": nz}) if nz != cfg.model.nz else cfg.model
    G, D = MODELS.build(model_cfg, shape, int(cfg.model.get("pac", 1)))
    for trick in tricks:
        G, D = trick.wrap(G, D)
    return G, D
