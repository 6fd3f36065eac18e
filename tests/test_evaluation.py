"""evaluation.py: image metrics of real and collapsed samplers, FID/KID with weights, the JSD gauge."""

from __future__ import annotations

import pytest
import torch

from gan_cli import classifier
from gan_cli.data import DATASETS
from gan_cli.evaluation import image_metrics, quantize
from gan_cli.inception import FID_WEIGHTS, fid_inception_v3
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    event_tags,
    make_cfg,
)


@pytest.mark.slow
def test_no_jsd_gauge_for_losses_without_a_probability(tmp_path):
    out = tmp_path / "run"
    train(make_cfg([*FAST, *RING, "loss=hinge", "train.eval_every=3"]), out)
    scalars = set(event_tags(out)["scalars"])
    assert "metrics/modes" in scalars and "metrics/jsd_estimate" not in scalars


def test_image_metrics_of_real_images_and_of_a_collapsed_sampler(digits8):
    cfg = make_cfg(["dataset.image_size=8"])
    classifier.get_classifier("digits", digits8.images, digits8.labels)  # (cached: the metrics use it)
    # a sampler as good as real data: the classifier's training half, disjoint from the held-out reference
    train_idx, ref_idx = classifier.split(len(digits8.images))
    assert not set(train_idx.tolist()) & set(ref_idx.tolist())
    real = digits8.images[train_idx].float()
    real = real / 127.5 - 1  # (uint8 images, as the reference)
    how: dict[str, str] = {}
    m = image_metrics(real, digits8, cfg, torch.device("cpu"), None, how)
    # other real digits are judged real but not identical: high, not perfect (results.md: about 0.89)
    assert 0.8 < m["precision"] < 1.0 and 0.8 < m["recall"] < 1.0
    assert 0 < m["fd_classifier"] < 1.0 and m["is_ratio"] == pytest.approx(1.0, abs=0.1)  # collapsed: 100+
    assert m["classes_present"] == 10 and "fid" not in m
    assert "not computed" in how["fid, kid, is"] and FID_WEIGHTS in how["fid, kid, is"]
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
    assert m["fid"] > 0 and "kid" in m and str(weights) in how["fid, kid, is"]
    assert m["is"] >= 1 and m["is_std"] >= 0 and "10 splits" in how["fid, kid, is"]
    with pytest.raises(Exception, match="no such file"):
        image_metrics(fake, data, cfg, torch.device("cpu"), str(tmp_path / "missing.pth"), {})
