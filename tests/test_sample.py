"""gan-sample (sample.py): grids, raw arrays and scatter plots from trained runs; readable errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import (
    run_cli,
)


@pytest.mark.slow
def test_gan_sample_images(trained_runs, tmp_path):
    run = trained_runs["images"]
    proc = run_cli(
        ["gan-sample", f"run={run}", "num=10", f"out={tmp_path / 'x.npy'}", "seed=3"], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (10, 1, 16, 16) and x.dtype == np.float32  # the digits' configured resolution
    assert x.min() >= 0 and x.max() <= 1
    again = run_cli(
        ["gan-sample", f"run={run}", "num=10", f"out={tmp_path / 'y.npy'}", "seed=3"], cwd=tmp_path
    )
    assert again.returncode == 0 and np.array_equal(x, np.load(tmp_path / "y.npy"))  # seeded
    proc = run_cli(["gan-sample", f"run={run}", "num=16", f"out={tmp_path / 'grid.png'}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    # a 4x4 grid of 16 px digits with 2 px padding is 74 px: enlarged 7x (nearest) to about 512 px across
    side = 4 * 18 + 2
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape[:2] == (7 * side, 7 * side)
    assert (grid[::7, ::7] == grid[6::7, 6::7]).all()  # each pixel a 7 x 7 block of one value
    proc = run_cli(
        ["gan-sample", f"run={run}", "num=16", f"out={tmp_path / 'g2.png'}", "scale=2"], cwd=tmp_path
    )
    assert proc.returncode == 0 and Image.open(tmp_path / "g2.png").size == (2 * side, 2 * side)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "g2.png"))[::2, ::2], grid[::7, ::7])
    bad = run_cli(
        ["gan-sample", f"run={run}", "num=4", f"out={tmp_path / 'b.png'}", "scale=-1"], cwd=tmp_path
    )
    assert bad.returncode != 0 and "scale=-1" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_gan_sample_points(trained_runs, tmp_path):
    run = trained_runs["points"]
    proc = run_cli(["gan-sample", f"run={run}", "num=500", f"out={tmp_path / 'p.npy'}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    points = np.load(tmp_path / "p.npy")
    assert points.shape == (500, 2) and np.isfinite(points).all()
    proc = run_cli(["gan-sample", f"run={run}", "num=500", f"out={tmp_path / 'p.png'}"], cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "must_say"),
    [
        (["run=/no/such/run", "out=x.png"], "/no/such/run"),
        (["num=4", "out=x.png"], "run="),
        (["run=RUN", "num=4", "out=x.jpg"], ".png"),
        (["run=RUN", "num=zero", "out=x.png"], "num"),
    ],
)
def test_gan_sample_errors(trained_runs, tmp_path, args, must_say):
    args = [a.replace("RUN", str(trained_runs["images"])) for a in args]
    proc = run_cli(["gan-sample", *args], cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert must_say in proc.stderr
