"""Evaluation metrics as pure functions: tensors in, numbers out.

The 2-D mixtures follow the PacGAN protocol (Lin et al. 2018, Table 1); the JSD gauge follows the GAN
paper's C(G) = -log 4 + 2 JSD(p_data || p_g).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

PACGAN_SAMPLES = 2500


def mixture_metrics(points: Tensor, centers: Tensor, std: float) -> dict[str, float | int | None]:
    """PacGAN's mode metrics for generated 2-D points [N, 2] against the mixture's centres [M, 2].

    A point is high quality when it lies within 3 std of its nearest mode; a mode is captured when it is
    the nearest mode of at least one high-quality point; reverse KL is KL(mode histogram of the
    high-quality points || uniform over the M modes) (None when no point is high quality). `distinct` is the
    share of points equal to no other point: near 1 for a continuous G, low for one that emits a fixed set
    of points, which the three PacGAN figures cannot tell from a distribution.
    """
    _, inverse, counts_per_value = torch.unique(
        points.detach(), dim=0, return_inverse=True, return_counts=True
    )
    distinct = float((counts_per_value[inverse] == 1).double().mean()) if len(points) else 0.0
    points, centers = points.detach().double().cpu(), centers.double().cpu()
    dist, nearest = torch.cdist(points, centers).min(dim=1)  # [N], [N]
    high = dist <= 3 * std
    counts = torch.bincount(nearest[high], minlength=len(centers)).double()  # [M]
    reverse_kl = None
    if counts.sum() > 0:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float((p[nz] * (p[nz] * len(centers)).log()).sum())
    return {
        "modes": int((counts > 0).sum()),
        "high_quality": float(high.double().mean()),
        "reverse_kl": reverse_kl,
        "distinct": distinct,
        "num_samples": len(points),
        "num_modes_total": len(centers),
    }


def jsd_estimate(real_logits: Tensor, fake_logits: Tensor) -> float:
    """(V(D, G) + log 4) / 2, with V = E[log D(x)] + E[log(1 - D(G(z)))] and D = sigmoid(logits).

    Equal to JSD(p_data || p_g) when D is the optimal D*; for any other D it is a lower bound.
    """
    v = torch.nn.functional.logsigmoid(real_logits.double()).mean()
    v = v + torch.nn.functional.logsigmoid(-fake_logits.double()).mean()
    return float((v + math.log(4.0)) / 2)


# --- Image metrics on feature vectors [N, F] (any feature extractor) and class probabilities [N, K] ---


def feature_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean [F] and covariance [F, F] (unbiased) in float64."""
    x = features.detach().double().cpu()
    return x.mean(dim=0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    """||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)), the Frechet distance of two Gaussians.

    tr((cov1 cov2)^(1/2)) is computed as the sum of sqrt(eigenvalues of s cov2 s) with s = cov1^(1/2):
    that matrix is symmetric positive semi-definite, so no complex square roots are needed.
    """
    mu1, mu2, cov1, cov2 = (t.double() for t in (mu1, mu2, cov1, cov2))
    w, v = torch.linalg.eigh(cov1)
    s = (v * w.clamp(min=0).sqrt()) @ v.T
    cross = torch.linalg.eigvalsh(s @ cov2 @ s).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + cov1.trace() + cov2.trace() - 2 * cross)


def knn_precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): each set's manifold is the union of balls
    reaching each point's k-th nearest neighbour in its own set. Precision: the fraction of fake points in
    the real manifold; recall: the fraction of real points in the fake manifold."""
    real, fake = real.detach().double().cpu(), fake.detach().double().cpu()

    def radii(x: Tensor) -> Tensor:  # distance to the k-th nearest other point [N]
        return torch.cdist(x, x).kthvalue(k + 1, dim=1).values  # the 1st is the point itself (0)

    def inside(points: Tensor, centres: Tensor, r: Tensor) -> float:
        return float((torch.cdist(points, centres) <= r[None, :]).any(dim=1).double().mean())

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def nearest(x: Tensor, ref: Tensor, exclude_self: bool = False, chunk: int = 1024) -> tuple[Tensor, Tensor]:
    """Each row of x's nearest row of ref, in chunks (x [N, D], ref [M, D]): (distances [N], indices [N]).
    exclude_self: x is ref, and a row's own distance (0) does not count."""
    x, ref = x.detach().flatten(1).float().cpu(), ref.detach().flatten(1).float().cpu()
    dists, idx = [], []
    for start in range(0, len(x), chunk):
        d = torch.cdist(x[start : start + chunk], ref)  # (matrix products: fast, about 1e-3 off at 0)
        if exclude_self:
            rows = torch.arange(len(d))
            d[rows, rows + start] = float("inf")
        v, i = d.min(dim=1)
        dists.append(v)
        idx.append(i)
    return torch.cat(dists), torch.cat(idx)


def copy_share(fake: Tensor, train: Tensor, percentile: float = 1.0) -> tuple[float, float, Tensor, Tensor]:
    """How many samples look copied from the training set: the share of `fake` whose nearest training row
    is nearer than the `percentile`-th percentile of the training rows' own nearest-neighbour distances
    (so held-out real data scores about percentile / 100, and copies of training rows 1). Returns (share,
    that threshold, each sample's distance [N] and nearest training row [N])."""
    own, _ = nearest(train, train, exclude_self=True)
    threshold = float(torch.quantile(own.double(), percentile / 100))
    dist, idx = nearest(fake, train)
    return float((dist < threshold).double().mean()), threshold, dist, idx


def kernel_inception_distance(
    real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): the unbiased MMD^2 with the kernel (x.y / F + 1)^3, averaged over random
    subsets (as torch-fidelity and the paper do). Returns (mean, std) over the subsets."""
    real, fake = real.detach().double().cpu(), fake.detach().double().cpu()
    m = min(subset_size, len(real), len(fake))
    gen = torch.Generator().manual_seed(seed)
    dim = real.shape[1]
    values = []
    for _ in range(subsets):
        x = real[torch.randperm(len(real), generator=gen)[:m]]
        y = fake[torch.randperm(len(fake), generator=gen)[:m]]
        kxx, kyy, kxy = ((a @ b.T / dim + 1).pow(3) for a, b in ((x, x), (y, y), (x, y)))
        off = m * (m - 1)
        mmd = (kxx.sum() - kxx.trace()) / off + (kyy.sum() - kyy.trace()) / off - 2 * kxy.mean()
        values.append(float(mmd))
    t = torch.tensor(values)
    return float(t.mean()), float(t.std()) if len(values) > 1 else 0.0


def inception_score(probs: Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))), with p(y) the mean of the class probabilities [N, K]."""
    p = probs.detach().double().cpu().clamp(min=1e-12)
    marginal = p.mean(dim=0, keepdim=True)
    return float((p * (p.log() - marginal.log())).sum(dim=1).mean().exp())


def inception_score_splits(
    logits: Tensor, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """The Inception Score as torch-fidelity computes it from Inception-v3's logits [N, K] (without the
    bias): the samples shuffled (numpy's RandomState(seed)), cut into `splits` equal parts, exp(E_x KL(p(y|x)
    || p(y))) in each with p(y) that part's mean; returns (mean, population std) over the parts."""
    import numpy as np

    x = logits.detach().double().cpu()
    n = len(x)
    if shuffle:
        x = x[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    p, log_p = x.softmax(dim=1), x.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        q = p[part].mean(dim=0, keepdim=True)
        scores.append(float((p[part] * (log_p[part] - q.log())).sum(dim=1).mean().exp()))
    return float(np.mean(scores)), float(np.std(scores))


def class_histogram(probs: Tensor) -> Tensor:
    """The share of samples whose most likely class is each class [K]."""
    k = probs.shape[1]
    return torch.bincount(probs.argmax(dim=1).cpu(), minlength=k).double() / len(probs)


def classes_present(probs: Tensor, min_share: float = 0.25) -> int:
    """Classes that are the most likely class of at least `min_share` of a uniform share (1/K) of the
    samples: one stray sample does not make a class present."""
    hist = class_histogram(probs)
    return int((hist >= min_share / len(hist)).sum())


# --- The optimal discriminator on 2-D data, where p_data is known ---


def kde_log_density(x: Tensor, samples: Tensor, bandwidth: float) -> Tensor:
    """log of a Gaussian kernel density estimate at points x [N, 2] from samples [M, 2] (bandwidth h)."""
    x, samples = x.double(), samples.double().to(x.device)
    log_norm = -math.log(2 * math.pi * bandwidth**2) - math.log(len(samples))
    # in blocks of rows: a heat map's 40,000 points x 1024 samples would be 330 MB per [N, M] temporary
    blocks = [
        torch.logsumexp(torch.cdist(block, samples).pow(2) / (-2 * bandwidth**2), dim=1)
        for block in x.split(4096)
    ]
    return torch.cat(blocks) + log_norm


def optimal_discriminator(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (the GAN paper, Proposition 1), from log densities."""
    return torch.sigmoid(log_p_data - log_p_g)


def distance_to_optimal_d(d_real: Tensor, d_fake: Tensor, dstar_real: Tensor, dstar_fake: Tensor) -> float:
    """E |D - D*| under (p_data + p_g) / 2, from D and D* at equally many real and generated points."""
    gaps = torch.cat([(d_real - dstar_real).abs(), (d_fake - dstar_fake).abs()])
    return float(gaps.double().mean())
