"""gan-eval (evaluate.py): eval.json for 2-D and image runs, and its readable errors."""

from __future__ import annotations

import json

import pytest

from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    SMALL_DCGAN,
    make_cfg,
    run_cli,
)


@pytest.mark.slow
def test_gan_eval_writes_eval_json(tmp_path):
    """eval.json's 2-D figures equal those recomputed here from the run's G by a direct formula, and its
    JSD gauge says what it estimates under packing."""
    import numpy as np
    import torch

    from gan_cli.data import DATASETS
    from gan_cli.nets import generate
    from gan_cli.runs import load_run

    run = tmp_path / "run"
    train(make_cfg([*FAST, *RING, "model.pac=2"]), run)
    proc = run_cli(["gan-eval", f"run={run}", "num=500"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((run / "eval.json").read_text())
    assert json.loads(proc.stdout) == written
    metrics = written["metrics"]
    G, _, cfg, _ = load_run(run, torch.device("cpu"))
    data = DATASETS.build(cfg.dataset, cfg.train.seed, torch.device("cpu"))
    x = generate(G, cfg.model.nz, 500, 0, torch.device("cpu")).double().numpy()  # gan-eval's seed 0
    centres, std = data.centers.double().numpy(), float(data.std)
    d = np.sqrt(((x[:, None, :] - centres[None]) ** 2).sum(-1))  # [500, 8]
    high = d.min(1) <= 3 * std
    counts = np.bincount(d.argmin(1)[high], minlength=len(centres))
    assert metrics["modes"] == int((counts > 0).sum())
    assert metrics["high_quality"] == pytest.approx(high.mean())
    if high.any():
        p = counts[counts > 0] / counts.sum()
        assert metrics["reverse_kl"] == pytest.approx(float((p * np.log(p * len(centres))).sum()))
    _, n = np.unique(x, axis=0, return_counts=True)
    assert metrics["distinct"] == pytest.approx((n == 1).sum() / 500)
    assert metrics["num_samples"] == 500 and "jsd_estimate" in metrics
    assert "PacGAN" in written["how"]["modes, high_quality, reverse_kl"]
    # a packed D judges pairs: the gauge estimates the JSD between pairs, and eval.json says so
    assert "2-tuples" in written["how"]["jsd_estimate"]
    assert "not JSD(p_data || p_g)" in written["how"]["jsd_estimate"]


@pytest.mark.slow
def test_gan_eval_errors(tmp_path):
    unlabelled = tmp_path / "img"  # random images: no labels for the classifier, no Inception weights
    train(make_cfg([*FAST, *SMALL_DCGAN, "dataset=fake", "dataset.image_size=8"]), unlabelled)
    for args, must_say in (
        (["run=/no/such/run"], "/no/such/run"),
        ([f"run={unlabelled}"], "no class labels"),
        ([f"run={unlabelled}", "inception=/no/such/weights.pth"], "no such file"),
        ([], "run="),
    ):
        proc = run_cli(["gan-eval", *args], cwd=tmp_path)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert must_say in proc.stderr


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
        "precision_pixels",
        "recall_pixels",
        "copies_pixels",
        "copies_features",
    ):
        assert key in metrics, key
    assert (run / "copies.png").is_file()  # the closest sample / training-image pairs
    # recomputed here in numpy from the same samples (seed 0, rounded to 8 bits) and classifier
    import numpy as np
    import torch

    from gan_cli.classifier import get_classifier
    from gan_cli.data import DATASETS
    from gan_cli.evaluation import quantize
    from gan_cli.nets import generate
    from gan_cli.runs import load_run

    G, _, cfg, _ = load_run(run, torch.device("cpu"))
    data = DATASETS.build(cfg.dataset, cfg.train.seed, torch.device("cpu"))
    clf = get_classifier(cfg.dataset.name, data.images, data.labels)
    fake = quantize(generate(G, cfg.model.nz, 300, 0, torch.device("cpu")))
    (f_real, _), (f_fake, p_fake) = clf.outputs(clf.reference), clf.outputs(fake)
    p = p_fake.double().numpy().clip(1e-12)
    is_fake = np.exp((p * (np.log(p) - np.log(p.mean(0, keepdims=True)))).sum(1).mean())
    assert metrics["is_classifier"] == pytest.approx(is_fake, rel=1e-6)
    n = min(len(f_real), 300)
    r, f = f_real[:n].double().numpy(), f_fake[:n].double().numpy()

    def dist(a, b):
        return np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))

    radius = np.sort(dist(r, r), axis=1)[:, 3]  # the 3rd nearest other real point (index 0: itself)
    assert metrics["precision"] == pytest.approx((dist(f, r) <= radius[None]).any(1).mean(), abs=1e-9)
    r = (clf.reference[:n].double() / 127.5 - 1).flatten(1).numpy()  # the same in pixels
    f = fake[:n].double().flatten(1).numpy()
    radius = np.sort(dist(r, r), axis=1)[:, 3]
    assert metrics["precision_pixels"] == pytest.approx((dist(f, r) <= radius[None]).any(1).mean(), abs=1e-9)
    assert "held-out" in written["how"]["fd_classifier, precision, recall, is_classifier, classes_present"]
    # the tests' Inception URL is a closed loopback port: offline, the note says how to get the weights
    why = written["how"]["fid, kid, is"]
    assert "not computed" in why and "failed" in why and "by hand" in why and "fid" not in metrics


@pytest.mark.slow
def test_gan_eval_split_test_judges_against_the_test_files(tmp_path, monkeypatch):
    import numpy as np

    from gan_cli import judge
    from gan_cli.evaluate import EvalConfig, run_eval
    from tests.helpers import write_idx

    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    write_idx(raw, "train", rng.integers(0, 100, (30, 28, 28), dtype=np.uint8))  # dark
    write_idx(raw, "t10k", rng.integers(150, 256, (20, 28, 28), dtype=np.uint8))  # light: G never sees them
    run = tmp_path / "run"
    overrides = [*FAST, *SMALL_DCGAN, "recipe=none", "dataset=mnist", f"dataset.root={tmp_path / 'data'}"]
    train(make_cfg(overrides), run)
    seen = {}

    def judged_against(G_ema, G, D, data, *args):  # the real side gan-eval hands to the metrics
        seen["n"], seen["mean"] = len(data), float(data.images.float().mean())
        return {}

    monkeypatch.setattr(judge, "evaluate", judged_against)
    for split, n, light in (("", 30, False), ("train", 30, False), ("test", 20, True)):
        report = run_eval(EvalConfig(run=str(run), split=split, device="cpu"))
        assert report["split"] == (split or "train")
        assert seen["n"] == n and (seen["mean"] > 150) == light
    bad = run_cli(["gan-eval", f"run={run}", "split=validation"], cwd=tmp_path)
    assert bad.returncode == 2 and "split=validation" in bad.stderr and "Traceback" not in bad.stderr
    ring = tmp_path / "ring"
    train(make_cfg([*FAST, *RING]), ring)
    bad = run_cli(["gan-eval", f"run={ring}", "split=test"], cwd=tmp_path)
    assert bad.returncode == 2 and "dataset=ring" in bad.stderr


@pytest.mark.slow
def test_split_test_reports_what_the_training_images_score_as_reference(tmp_path):
    """With split=test, the training images are judged in place of the samples, against the same held-out
    images: the reference for the samples' figures (issue 35's pixel recall goal)."""
    import numpy as np
    import torch

    from gan_cli.classifier import get_classifier, to_float
    from gan_cli.data import DATASETS
    from gan_cli.evaluate import EvalConfig, run_eval
    from gan_cli.evaluation import classifier_metrics
    from gan_cli.runs import load_run
    from tests.helpers import write_idx

    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    write_idx(raw, "train", rng.integers(0, 256, (60, 28, 28), dtype=np.uint8))
    write_idx(raw, "t10k", rng.integers(0, 256, (40, 28, 28), dtype=np.uint8))
    run = tmp_path / "run"
    overrides = [*FAST, *SMALL_DCGAN, "recipe=none", "dataset=mnist", f"dataset.root={tmp_path / 'data'}"]
    train(make_cfg(overrides), run)
    metrics = run_eval(EvalConfig(run=str(run), split="test", device="cpu", num=50))["metrics"]
    _, _, cfg, _ = load_run(run, torch.device("cpu"))
    cfg.dataset.split = "test"
    test = DATASETS.build(cfg.dataset, 0, torch.device("cpu"))
    cfg.dataset.split = "train"
    images = DATASETS.build(cfg.dataset, 0, torch.device("cpu")).images
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:50]
    clf = get_classifier("mnist", test.images, test.labels)
    real = classifier_metrics(clf, to_float(images[pick]), "mnist", {})
    for key in ("precision", "recall", "precision_pixels", "recall_pixels", "is_ratio"):
        assert metrics[f"{key}_real"] == pytest.approx(real[key])
    plain = run_eval(EvalConfig(run=str(run), device="cpu", num=50))["metrics"]
    assert "recall_pixels_real" not in plain  # judged on the training images themselves: no reference
