"""classifier.py: the offline feature network, accurate, cached, and rebuilt from a damaged cache."""

from __future__ import annotations

import pytest
import torch

from gan_cli import classifier


@pytest.mark.slow
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
