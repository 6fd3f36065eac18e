"""data/stream.py: streaming from the memory-mapped cache gives the in-memory batches, restores exactly, and
a training run resumed while streaming is bitwise the run trained without a stop."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from gan_cli import checkpoint
from gan_cli.data.base import TensorSampler
from gan_cli.data.cache import MappedImages
from gan_cli.data.stream import StreamSampler
from gan_cli.train import train
from tests.data.test_cache import photo_folder
from tests.helpers import FAST, assert_same, make_cfg

CPU = torch.device("cpu")


@pytest.fixture
def pair(tmp_path):
    """The same 50 labelled images, in memory and as a mapped .npy file."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8, generator=gen)
    labels = torch.arange(50) % 7
    np.save(tmp_path / "images.npy", images.numpy())

    def make(seed=5):
        held = TensorSampler(images, seed, CPU, labels)
        streamed = StreamSampler(MappedImages(tmp_path / "images.npy"), seed, CPU, labels, depth=3)
        return held, streamed

    return make


def test_streamed_batches_are_the_in_memory_ones_across_epochs_and_batch_sizes(pair):
    held, streamed = pair()
    for n in [16] * 7 + [5, 5, 16, 50, 16, 16]:  # epochs of 50 cut at odd places; a new batch size restarts
        (a, ya), (b, yb) = held.next_batch(n), streamed.next_batch(n)
        assert torch.equal(a, b) and torch.equal(ya, yb)
    assert torch.equal(held.next(8), streamed.next(8))
    gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    (a, ya), (b, yb) = held.sample_eval_labelled(20, gen_a), streamed.sample_eval_labelled(20, gen_b)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert torch.equal(held.images, streamed.images)
    streamed.close()


def test_streamed_state_restores_exactly_and_moves_between_modes(pair):
    held, streamed = pair()
    for _ in range(4):
        streamed.next_batch(16)  # the thread is batches ahead: the state must be the consumer's
    state = streamed.state_dict()
    expected = [streamed.next_batch(16)[0] for _ in range(5)]
    _, again = pair(seed=99)
    again.load_state_dict(state)
    assert all(torch.equal(e, again.next_batch(16)[0]) for e in expected)
    held.load_state_dict(state)  # a streamed run can resume in memory, and back
    held.next_batch(16)
    _, back = pair(seed=99)
    back.load_state_dict(held.state_dict())
    assert torch.equal(back.next_batch(16)[0], expected[1])
    for s in (streamed, again, back):
        s.close()


def test_mapped_reads_release_their_pages_and_stay_correct(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (300, 1, 32, 32), dtype=np.uint8)
    np.save(tmp_path / "a.npy", array)
    mapped = MappedImages(tmp_path / "a.npy")
    mapped.RELEASE_BYTES = 10 * 1024  # release every 10 rows
    out = np.empty((7, 1, 32, 32), np.uint8)
    for start in range(0, 280, 7):
        idx = np.arange(start, start + 7)[::-1].copy()
        assert np.array_equal(mapped.take(idx, out), array[idx])
    assert mapped._read < mapped.RELEASE_BYTES


def mapped_resident_kb(path) -> int:
    """Resident kB of this process's mappings of `path` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in open("/proc/self/smaps").read().splitlines():
        if line and not line[0].isupper():  # a mapping's header: address range, ..., path
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads Linux's /proc/self/smaps")
def test_release_drops_the_mapped_pages_from_the_process(tmp_path):
    """Pages read through the mapping count as resident until release() hands them back."""
    array = np.random.default_rng(0).integers(0, 256, (256, 1, 64, 64), dtype=np.uint8)  # 1 MiB
    np.save(tmp_path / "a.npy", array)
    mapped = MappedImages(tmp_path / "a.npy")
    mapped.RELEASE_BYTES = 1 << 40  # no release while reading
    out = np.empty((256, 1, 64, 64), np.uint8)
    assert np.array_equal(mapped.take(np.arange(256), out), array)
    assert mapped_resident_kb(tmp_path / "a.npy") >= 900
    mapped.release()
    assert mapped_resident_kb(tmp_path / "a.npy") < 100
    assert np.array_equal(mapped.take(np.arange(256), out), array)  # and the rows read the same after


def test_a_read_error_in_the_thread_reaches_the_training_thread(pair, monkeypatch):
    _, streamed = pair()
    streamed.next_batch(16)  # starts the thread

    def broken(idx, out):
        raise OSError("disk gone")

    monkeypatch.setattr(streamed.source, "take", broken)
    with pytest.raises(OSError, match="disk gone"):
        for _ in range(10):
            streamed.next_batch(16)
    streamed.close()


@pytest.mark.slow
def test_training_while_streaming_matches_in_memory_and_resumes_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_CLI_CACHE", str(tmp_path / "cache"))
    photo_folder(tmp_path / "imgs", n_per_class=24)
    base = [
        *FAST,
        "dataset=folder",
        f"dataset.root={tmp_path / 'imgs'}",
        "dataset.image_size=16",
        "model.ngf=8",
        "model.ndf=8",
        "train.batch_size=20",  # 48 images: epochs end inside batches
    ]
    held = tmp_path / "held"
    train(make_cfg([*base, "dataset.in_memory=true"]), held)
    whole = tmp_path / "whole"
    train(make_cfg([*base, "dataset.in_memory=false"]), whole)
    a, b = (checkpoint.load(p / "checkpoints" / "last.pt") for p in (held, whole))
    for key in ("G", "D", "opt_g", "opt_d", "data"):
        assert_same(a[key], b[key], key)
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000003.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*base, "dataset.in_memory=false", f"resume={half}"]), tmp_path / "unused")
    a, b = (checkpoint.load(p / "checkpoints" / "last.pt") for p in (whole, half))
    assert_same(a, b)
