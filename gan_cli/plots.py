"""2-D plots: real and generated points over a heat map of D's output, rendered to an RGB array."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor


def plot_bounds(real: Tensor, margin: float = 0.25) -> tuple[float, float, float, float]:
    lo, hi = real.min(0).values, real.max(0).values
    pad = (hi - lo).max().item() * margin + 1e-3
    return lo[0].item() - pad, hi[0].item() + pad, lo[1].item() - pad, hi[1].item() + pad


def scatter_points(
    real: Tensor,
    fake: Tensor,
    d_fn: Callable[[Tensor], Tensor] | None = None,
    title: str = "",
    d_label: str = "D(x)",
    resolution: int = 200,
    gap_fn: Callable[[Tensor], Tensor] | None = None,
    gap_title: str = "",
) -> np.ndarray:
    """Return an RGB uint8 image [H, W, 3]: real (black) and generated (red) points, D's map underneath;
    with `gap_fn`, a second panel shows D(x) - D*(x) over the same area."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real, fake = real.detach().float().cpu(), fake.detach().float().cpu()
    x0, x1, y0, y1 = plot_bounds(real)
    if gap_fn is None:
        fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    else:
        fig, (ax, ax_gap) = plt.subplots(1, 2, figsize=(11, 5), dpi=100)
    xs, ys = torch.linspace(x0, x1, resolution), torch.linspace(y0, y1, resolution)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], dim=1)  # [R*R, 2]
    extent = (x0, x1, y0, y1)
    if d_fn is not None:
        with torch.no_grad():
            values = d_fn(grid).float().cpu().view(resolution, resolution).numpy()
        im = ax.imshow(values, origin="lower", extent=extent, cmap="viridis", aspect="auto")
        fig.colorbar(im, ax=ax, label=d_label)
    if gap_fn is not None:
        with torch.no_grad():
            gap = gap_fn(grid).float().cpu().view(resolution, resolution).numpy()
        im = ax_gap.imshow(gap, origin="lower", extent=extent, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        fig.colorbar(im, ax=ax_gap, label="D(x) - D*(x)")
        ax_gap.scatter(real[:, 0], real[:, 1], s=1, c="black", alpha=0.3)
        ax_gap.set_title(gap_title, fontsize=9)
    ax.scatter(real[:, 0], real[:, 1], s=2, c="black", alpha=0.5, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="red", alpha=0.5, label="generated")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.legend(loc="upper right", markerscale=4, fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image
