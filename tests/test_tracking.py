"""tracking.py: what a run shows (the 2-D heat map with D - D*)."""

from __future__ import annotations

import pytest

from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    event_tags,
    log_mean_gauss,
    make_cfg,
)


@pytest.mark.slow
def test_heat_map_shows_d_minus_dstar_for_log_losses(tmp_path):
    out = tmp_path / "ns"
    train(make_cfg([*FAST, *RING]), out)
    assert "metrics/d_vs_dstar" in event_tags(out)["scalars"]
    value = event_tags(out)["_acc"].Scalars("metrics/d_vs_dstar")[-1].value
    assert value == pytest.approx(gap_recomputed(out), rel=1e-4)
    hinge = tmp_path / "hinge"
    train(make_cfg([*FAST, *RING, "loss=hinge"]), hinge)
    assert "metrics/d_vs_dstar" not in event_tags(hinge)["scalars"]


def gap_recomputed(run_dir) -> float:
    """E|D - D*| at the last step, recomputed in numpy from the final checkpoint: D* = p_data / (p_data +
    p_g), p_data the ring's mixture density and p_g a Gaussian KDE (bandwidth the data's std) of the raw G's
    samples, over as many real points (seed 0) and samples of G (seed 0) as the run's fixed latents."""
    import numpy as np
    import torch

    from gan_cli.data import DATASETS
    from gan_cli.nets import generate
    from gan_cli.runs import load_run, raw_generator

    cpu = torch.device("cpu")
    _, D, cfg, ckpt = load_run(run_dir, cpu)
    G = raw_generator(cfg, ckpt, cpu)
    data = DATASETS.build(cfg.dataset, cfg.train.seed, cpu)
    n = len(ckpt["z_fixed"])
    real = data.sample_cpu(n, torch.Generator().manual_seed(0))
    fake = generate(G, cfg.model.nz, n, 0, cpu)
    with torch.no_grad():
        d = [torch.sigmoid(D(x).logits).double().numpy() for x in (real, fake)]
    centres, std = data.centers.double().numpy(), float(data.std)
    g = fake.double().numpy()
    gaps = []
    for x, d_x in zip((real.double().numpy(), g), d, strict=True):
        log_data, log_g = log_mean_gauss(x, centres, std), log_mean_gauss(x, g, std)
        d_star = np.exp(-np.logaddexp(0, log_g - log_data))  # 1 / (1 + p_g / p_data), without overflow
        gaps.append(np.abs(d_x - d_star))
    return float(np.concatenate(gaps).mean())


def test_grids_of_small_images_are_enlarged_by_a_whole_factor():
    import torch

    from gan_cli.tracking import image_grid

    x = torch.rand(64, 1, 16, 16) * 2 - 1
    grid = image_grid(x)  # 8 x 8 digits of 16 px and 2 px padding: 146 px, 4x -> 584 (about 512)
    assert grid.shape == (3, 4 * 146, 4 * 146)
    plain = image_grid(x, scale=1)
    assert plain.shape == (3, 146, 146) and torch.equal(grid[:, ::4, ::4], plain)
    big = torch.rand(4, 3, 300, 300) * 2 - 1
    assert image_grid(big).shape == (3, 606, 606)  # 2 x (300 + 2) + 2 px: never shrunk, not enlarged
