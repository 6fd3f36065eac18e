"""What a run shows: TensorBoard scalars, sample grids, 2-D plots, hparams, and the console progress bar."""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams
from torchvision.utils import make_grid, save_image

from gan_cli import metrics as M
from gan_cli.nets import generate, single
from gan_cli.plots import scatter_points

GRID_WIDTH = 512  # grids of small images are enlarged to about this many pixels across


def image_grid(images: Tensor, scale: int = 0, nrow: int = 0) -> Tensor:
    """[N, C, H, W] in [-1, 1] -> a [C, H', W'] grid in [0, 1] of `nrow` images a row (0: about square),
    enlarged by a whole factor with nearest-neighbour pixels so that a person can see it: `scale` times,
    or with 0 (auto) about GRID_WIDTH pixels across (never shrunk)."""
    nrow = nrow or max(1, int(math.ceil(math.sqrt(images.shape[0]))))
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=2, normalize=True, value_range=(-1, 1))
    factor = scale if scale > 0 else max(1, round(GRID_WIDTH / grid.shape[-1]))
    return grid.repeat_interleave(factor, dim=1).repeat_interleave(factor, dim=2) if factor > 1 else grid


def save_grid(images: Tensor, path: str | Path, scale: int = 0, nrow: int = 0) -> None:
    """The grid of image_grid as a PNG file."""
    save_image(image_grid(images, scale, nrow), path)


def flatten(cfg: dict, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}, with values TensorBoard's hparams accept (numbers, str, bool)."""
    flat: dict[str, Any] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, bool | str) or isinstance(value, numbers.Number):
            flat[name] = value
        else:
            flat[name] = str(value)  # lists, None
    return flat


class Tracker:
    """TensorBoard writer for one run; event files go straight into the run folder."""

    def __init__(self, out_dir: str | Path, purge_step: int | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.writer = SummaryWriter(log_dir=str(self.out_dir), purge_step=purge_step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def images(self, tag: str, images: Tensor, step: int) -> None:
        self.writer.add_image(tag, image_grid(images), step)

    def picture(self, tag: str, rgb: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, rgb, step, dataformats="HWC")

    def text(self, tag: str, text: str, step: int) -> None:
        self.writer.add_text(tag, text, step)

    def hparams(self, config: dict, metric_tags: list[str]) -> None:
        """Register this run in the HPARAMS tab; metric values are read from the scalars of those tags."""
        exp, ssi, sei = hparams(flatten(config), {tag: 0.0 for tag in metric_tags})
        for summary in (exp, ssi, sei):
            self.writer.file_writer.add_summary(summary)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class NullTracker(Tracker):
    """What data-parallel ranks other than 0 get: the same calls, nothing written."""

    def __init__(self) -> None:
        pass

    def scalars(self, values: dict[str, float], step: int) -> None:
        pass

    def images(self, tag: str, images: Tensor, step: int) -> None:
        pass

    def picture(self, tag: str, rgb: np.ndarray, step: int) -> None:
        pass

    def text(self, tag: str, text: str, step: int) -> None:
        pass

    def hparams(self, config: dict, metric_tags: list[str]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@torch.no_grad()
def log_samples(
    tracker: Tracker,
    G_s: torch.nn.Module,
    D: torch.nn.Module,
    loss: Any,
    data: Any,
    z_fixed: torch.Tensor,
    step: int,
    out_dir: Path,
    G: torch.nn.Module | None = None,
) -> None:
    """Sample grid from the fixed z (images) or a scatter plot over D's heat map (2-D points). For 2-D data
    and a D that estimates a probability, also D - D* beside it, D* = p_data / (p_data + p_g) with p_data
    known and p_g a kernel density estimate from samples of G (the raw G, which D is trained against)."""
    was_training = G_s.training
    G_s.eval()
    fake = G_s(z_fixed)
    G_s.train(was_training)
    (out_dir / "samples").mkdir(exist_ok=True)
    if data.kind == "image":
        tracker.images("samples/fixed_z", fake, step)
        save_grid(fake, out_dir / "samples" / f"step_{step:06d}.png")
        return
    device = z_fixed.device
    was_training = D.training
    D.eval()
    real = data.sample_cpu(len(fake), torch.Generator().manual_seed(0))
    d_fn = lambda x: loss.prob(single(D, x.to(device))).cpu()  # noqa: E731
    gap_fn, gap_title = None, ""
    if loss.estimates_probability:  # minimax, nonsaturating
        g_points = generate(G if G is not None else G_s, z_fixed.shape[1], len(fake), 0, device)
        log_pg = lambda x: M.kde_log_density(x, g_points, data.std)  # noqa: E731
        d_star = lambda x: M.optimal_discriminator(data.log_density(x).double(), log_pg(x))  # noqa: E731
        gap_fn = lambda x: d_fn(x).double() - d_star(x)  # noqa: E731
        gap = M.distance_to_optimal_d(d_fn(real), d_fn(g_points), d_star(real), d_star(g_points))
        tracker.scalars({"metrics/d_vs_dstar": gap}, step)
        gap_title = (
            f"D - D*, D* = p_data / (p_data + p_g); E|D - D*| = {gap:.3f}\n"
            f"(p_g: Gaussian KDE of {len(g_points)} samples of G, bandwidth {data.std:g})"
        )
    image = scatter_points(real, fake, d_fn, f"step {step}", loss.d_label, gap_fn=gap_fn, gap_title=gap_title)
    D.train(was_training)
    tracker.picture("samples/scatter", image, step)
    from PIL import Image

    Image.fromarray(image).save(out_dir / "samples" / f"step_{step:06d}.png")
