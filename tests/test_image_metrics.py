"""Image metrics: the pure functions against closed forms and extreme samplers, the cached classifier, and
gan-eval on image runs (FID/KID only with weights on disk; never a download)."""

from __future__ import annotations

import json

import pytest
import torch

from gan_cli import classifier
from gan_cli import metrics as M
from gan_cli.data import DATASETS
from gan_cli.evaluate import image_metrics, quantize
from gan_cli.inception import FID_WEIGHTS, fid_inception_v3
from gan_cli.train import train
from tests.conftest import FAST, SMALL_DCGAN, make_cfg, run_cli


def gauss(n: int, dim: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


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


@pytest.fixture(scope="module")
def digits8():
    return DATASETS.build(make_cfg(["dataset.image_size=8"]).dataset, 0, torch.device("cpu"))


def test_classifier_is_accurate_cached_and_survives_a_damaged_cache(digits8, monkeypatch):
    clf = classifier.get_classifier("digits", digits8.images, digits8.labels)
    assert clf.test_accuracy > 0.9 and clf.path.is_file()
    assert len(clf.reference) == len(digits8.images) // 2 and clf.num_classes == 10

    def must_not_train(*args, **kwargs):
        raise AssertionError("trained again instead of using the cache")

    monkeypatch.setattr(classifier, "train_classifier", must_not_train)
    again = classifier.get_classifier("digits", digits8.images, digits8.labels)
    assert again.test_accuracy == clf.test_accuracy
    monkeypatch.undo()
    clf.path.write_bytes(b"not a checkpoint")
    retrained = classifier.get_classifier("digits", digits8.images, digits8.labels)
    assert retrained.test_accuracy > 0.9
    torch.load(retrained.path, weights_only=True)  # the cache entry was rewritten whole


def test_image_metrics_of_real_images_and_of_a_collapsed_sampler(digits8):
    cfg = make_cfg(["dataset.image_size=8"])
    clf = classifier.get_classifier("digits", digits8.images, digits8.labels)
    real = clf.reference.float() / 127.5 - 1  # the held-out images themselves: a perfect sampler
    how: dict[str, str] = {}
    m = image_metrics(real, digits8, cfg, torch.device("cpu"), None, how)
    assert m["precision"] == 1.0 and m["recall"] == 1.0
    assert m["fd_classifier"] == pytest.approx(0.0, abs=1e-6) and m["is_ratio"] == pytest.approx(1.0)
    assert m["classes_present"] == 10 and "fid" not in m
    assert "not computed" in how["fid, kid"] and FID_WEIGHTS in how["fid, kid"]
    collapsed = real[:1].repeat(len(real), 1, 1, 1)
    m = image_metrics(collapsed, digits8, cfg, torch.device("cpu"), None, {})
    assert (
        m["classes_present"] == 1
        and m["recall"] < 0.05
        and m["is_classifier"] == pytest.approx(1.0, abs=0.01)
    )
    assert m["fd_classifier"] > 1.0


def test_quantize_rounds_to_8_bits():
    x = torch.tensor([-1.5, -1.0, 0.0, 0.001, 1.0, 2.0])
    q = quantize(x)
    assert q.min() == -1 and q.max() == 1
    assert torch.equal(((q + 1) * 127.5).round(), (q + 1) * 127.5) or torch.allclose(
        ((q + 1) * 127.5), ((q + 1) * 127.5).round(), atol=1e-4
    )


def test_fid_and_kid_with_weights_on_disk(tmp_path):
    # No real weights offline: a randomly initialised network of the exact architecture exercises loading,
    # resizing and both metrics (the numbers mean nothing; the closed forms are tested above).
    weights = tmp_path / FID_WEIGHTS
    torch.save(fid_inception_v3().state_dict(), weights)
    cfg = make_cfg(["dataset.image_size=8", "dataset.num_samples=40"])
    data = DATASETS.build(cfg.dataset, 0, torch.device("cpu"))
    fake = torch.rand(20, 1, 8, 8) * 2 - 1
    how: dict[str, str] = {}
    m = image_metrics(fake, data, cfg, torch.device("cpu"), str(weights), how)
    assert m["fid"] > 0 and "kid" in m and str(weights) in how["fid, kid"]
    with pytest.raises(Exception, match="no such file"):
        image_metrics(fake, data, cfg, torch.device("cpu"), str(tmp_path / "missing.pth"), {})


@pytest.mark.slow
def test_gan_eval_on_an_image_run(tmp_path):
    run = tmp_path / "run"
    train(make_cfg([*FAST, *SMALL_DCGAN, "train.eval_every=4"]), run)
    proc = run_cli(["gan-eval", f"run={run}", "num=300"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((run / "eval.json").read_text())
    metrics = written["metrics"]
    for key in (
        "fd_classifier",
        "precision",
        "recall",
        "is_classifier",
        "is_classifier_real",
        "classes_present",
    ):
        assert key in metrics, key
    assert 0 <= metrics["precision"] <= 1 and 1 <= metrics["is_classifier"] <= 10
    assert "held-out" in written["how"]["fd_classifier, precision, recall, is_classifier, classes_present"]
    assert "not computed" in written["how"]["fid, kid"]
