"""metrics.py: every metric against known answers (perfect and collapsed samplers, closed forms)."""

from __future__ import annotations

import math

import pytest
import torch

from gan_cli import metrics as M
from gan_cli.metrics import (
    feature_stats,
    frechet_distance,
    jsd_estimate,
    kernel_inception_distance,
    mixture_metrics,
)
from tests.helpers import (
    mixture,
)


def gauss(n: int, dim: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


@pytest.mark.parametrize(("name", "modes"), [("ring", 8), ("grid", 25)])
def test_a_perfect_sampler_scores_like_the_true_distribution(name, modes):
    data = mixture(name)
    m = mixture_metrics(data.sample_eval(20000, torch.Generator().manual_seed(1)), data.centers, data.std)
    assert m["modes"] == modes
    # P(|x - mu| <= 3 sigma) for a 2-D Gaussian is 1 - exp(-9/2) = 0.9889 (PacGAN's "about 98.9%")
    assert m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    assert m["reverse_kl"] < 0.01


def test_collapsed_and_partial_samplers():
    data = mixture("ring")
    collapsed = data.centers[3].repeat(2500, 1)
    m = mixture_metrics(collapsed, data.centers, data.std)
    assert (m["modes"], m["high_quality"]) == (1, 1.0)
    assert m["reverse_kl"] == pytest.approx(math.log(8))
    half = data.centers[torch.arange(2500) % 4]  # 4 of the 8 modes, equally
    m = mixture_metrics(half, data.centers, data.std)
    assert m["modes"] == 4 and m["reverse_kl"] == pytest.approx(math.log(2))
    far = torch.full((100, 2), 10.0)
    m = mixture_metrics(far, data.centers, data.std)
    assert (m["modes"], m["high_quality"], m["reverse_kl"]) == (0, 0.0, None)


def test_jsd_estimate_is_the_jsd_at_the_optimal_discriminator():
    p = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    q = torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)
    logit_star = torch.log(p / q)  # sigmoid(log(p/q)) = p / (p + q) = D*
    real = logit_star[torch.repeat_interleave(torch.arange(3), (p * 1000).long())]
    fake = logit_star[torch.repeat_interleave(torch.arange(3), (q * 1000).long())]
    m = (p + q) / 2
    jsd = 0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum()
    assert jsd_estimate(real, fake) == pytest.approx(jsd.item(), abs=1e-9)
    assert jsd_estimate(torch.zeros(5), torch.zeros(5)) == pytest.approx(0.0, abs=1e-12)  # D = 1/2


def test_frechet_distance_closed_forms():
    # diagonal covariances: ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 9.0])
    expected = 1 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0
    assert M.frechet_distance(mu1, a.diag(), mu2, b.diag()) == pytest.approx(expected, abs=1e-9)
    # non-commuting covariances: against scipy's matrix square root
    import scipy.linalg

    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.randn(5, 5, generator=g, dtype=torch.float64),
        torch.randn(5, 5, generator=g, dtype=torch.float64),
    )
    c1, c2 = x @ x.T + 0.1 * torch.eye(5), y @ y.T + 0.1 * torch.eye(5)
    cross = scipy.linalg.sqrtm((c1 @ c2).numpy()).real.trace()
    ref = float(c1.trace() + c2.trace() - 2 * cross)
    assert M.frechet_distance(torch.zeros(5), c1, torch.zeros(5), c2) == pytest.approx(ref, rel=1e-6)
    assert M.frechet_distance(torch.zeros(5), c1, torch.zeros(5), c1) == pytest.approx(0.0, abs=1e-8)


def test_knn_precision_recall_extremes():
    real = gauss(600, 8, 0)
    p, r = M.knn_precision_recall(real, gauss(600, 8, 1))  # same distribution
    assert p > 0.85 and r > 0.85
    collapsed = real[:1].repeat(600, 1)  # every sample is one real point
    p, r = M.knn_precision_recall(real, collapsed)
    assert p == 1.0 and r < 0.02
    p, r = M.knn_precision_recall(real, gauss(600, 8, 1, shift=10.0))  # far away
    assert p == 0.0 and r == 0.0
    half = torch.cat([real[:300], gauss(300, 8, 2, shift=10.0)])  # half on the data, half far off
    p, _ = M.knn_precision_recall(real, half)
    assert 0.45 < p < 0.55


def test_kid_is_unbiased_near_zero_and_grows_with_a_shift():
    same, std = M.kernel_inception_distance(gauss(500, 16, 0), gauss(500, 16, 1), subsets=20, subset_size=200)
    assert abs(same) < 3 * std + 1e-3
    shifted, _ = M.kernel_inception_distance(
        gauss(500, 16, 0), gauss(500, 16, 1, 1.0), subsets=20, subset_size=200
    )
    assert shifted > 0.5


def test_inception_score_and_coverage_closed_forms():
    k = 10
    confident_uniform = torch.eye(k).repeat(50, 1)  # one-hot, every class equally often
    assert M.inception_score(confident_uniform) == pytest.approx(k, rel=1e-6)
    one_class = torch.eye(k)[:1].repeat(500, 1)
    assert M.inception_score(one_class) == pytest.approx(1.0)
    assert M.inception_score(torch.full((500, k), 1 / k)) == pytest.approx(1.0)
    assert M.classes_present(confident_uniform) == k and M.classes_present(one_class) == 1
    # one stray sample of class 9 among 1000 does not make it present (threshold: 1/4 of 1/K)
    stray = torch.cat([torch.eye(k)[:9].repeat(111, 1), torch.eye(k)[9:]])
    assert M.classes_present(stray) == 9


def test_optimal_discriminator_and_the_kde():
    data = mixture("ring")
    x = data.sample_eval(400, torch.Generator().manual_seed(0))
    log_p = data.log_density(x).double()
    assert torch.allclose(M.optimal_discriminator(log_p, log_p), torch.full_like(log_p, 0.5))
    # D* = p / (p + q) against the plain formula
    q = torch.rand(400, dtype=torch.float64) * 10
    assert torch.allclose(M.optimal_discriminator(log_p, q.log()), log_p.exp() / (log_p.exp() + q))
    # a KDE is a density: it integrates to 1 (grid sum over [-2, 2]^2)
    samples = torch.randn(50, 2) * 0.3
    axis = torch.linspace(-2, 2, 201)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    mass = M.kde_log_density(grid, samples, 0.1).exp().sum() * (4 / 200) ** 2
    assert float(mass) == pytest.approx(1.0, abs=0.01)
    d = torch.rand(10)
    assert M.distance_to_optimal_d(d, d, d, d) == 0.0
    assert M.distance_to_optimal_d(torch.ones(4), torch.zeros(4), torch.zeros(4), torch.ones(4)) == 1.0


def test_distinct_shows_a_generator_that_emits_a_fixed_set_of_points():
    """PacGAN's three figures cannot tell 512 points placed on the modes from a distribution; `distinct`
    (the share of samples equal to no other) can."""
    torch.manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    std = 0.05
    continuous = centers[torch.randint(0, 4, (2500,))] + std * torch.randn(2500, 2)
    points = continuous[:512]  # a point set on the modes, drawn from the data itself
    fixed = points[torch.randint(0, 512, (2500,))]
    a, b = mixture_metrics(continuous, centers, std), mixture_metrics(fixed, centers, std)
    assert a["distinct"] == 1.0
    assert (a["modes"], b["modes"]) == (4, 4)  # the same on PacGAN's figures
    assert b["high_quality"] == pytest.approx(a["high_quality"], abs=0.02)
    # a sample of 2,500 from 512 points: the share drawn once is (1 - 1/512)^2499 of them, about 0.0076
    assert b["distinct"] == pytest.approx((1 - 1 / 512) ** 2499, abs=0.01)
    # three equal points and two others: 2 of 5 distinct
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert mixture_metrics(x, centers, std)["distinct"] == pytest.approx(0.4)


def test_frechet_distance_equals_pytorch_fid_s_on_the_same_features():
    import numpy as np
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 16))
    b = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16)) * 0.3 + 0.5
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    ours = frechet_distance(*feature_stats(torch.from_numpy(a)), *feature_stats(torch.from_numpy(b)))
    assert ours == pytest.approx(calculate_frechet_distance(mu1, s1, mu2, s2), rel=1e-6)


def test_kid_equals_the_unbiased_mmd_written_out():
    """With one subset holding every sample, KID is the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3."""
    import numpy as np

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(60, 8)), rng.normal(loc=0.3, size=(60, 8))
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    direct = (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )
    ours, spread = kernel_inception_distance(
        torch.from_numpy(x), torch.from_numpy(y), subsets=1, subset_size=60
    )
    assert ours == pytest.approx(direct, rel=1e-7) and spread == 0.0
    # subsets of the data: the mean of the same estimate over random subsets
    mean, std = kernel_inception_distance(
        torch.from_numpy(x), torch.from_numpy(y), subsets=50, subset_size=30
    )
    assert mean == pytest.approx(direct, abs=3 * std / 50**0.5 + 1e-3) and std > 0


def test_inception_score_over_splits_as_torch_fidelity_computes_it():
    import numpy as np

    from gan_cli.metrics import inception_score_splits

    rng = np.random.default_rng(2)
    logits = rng.normal(scale=3.0, size=(1003, 12))  # not a multiple of 10: uneven splits
    # torch-fidelity's protocol written out: shuffle with RandomState(2020), parts i*N//10 .. (i+1)*N//10
    x = logits[np.random.RandomState(2020).permutation(len(logits))]
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for i in range(10):
        part = p[i * len(x) // 10 : (i + 1) * len(x) // 10]
        kl = (part * (np.log(part) - np.log(part.mean(0, keepdims=True)))).sum(1)
        scores.append(np.exp(kl.mean()))
    mean, std = inception_score_splits(torch.from_numpy(logits))
    assert mean == pytest.approx(np.mean(scores), rel=1e-9) and std == pytest.approx(np.std(scores), rel=1e-9)
    # closed forms: equal logits everywhere score 1; K classes each predicted surely and evenly score K
    assert inception_score_splits(torch.zeros(100, 5))[0] == pytest.approx(1.0)
    sure = torch.eye(5).repeat(40, 1) * 50
    assert inception_score_splits(sure, shuffle=False)[0] == pytest.approx(5.0, rel=1e-6)
