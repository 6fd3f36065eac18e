"""data/cache.py and data/decode.py: a folder decoded once on all cores, then read from the cache; a changed
folder is decoded again, a damaged entry rebuilt, unreadable files refused or skipped."""

from __future__ import annotations

import errno
import json
import logging
import os

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.data import DATASETS, cache, decode, images
from gan_cli.data.base import TensorSampler
from gan_cli.data.stream import StreamSampler
from gan_cli.errors import ConfigError, UserError
from gan_cli.schema import DatasetConfig, check
from tests.helpers import fake_mnist, group_cfg, make_cfg

CPU = torch.device("cpu")


def photo_folder(root, n_per_class=40, size=(24, 18)):
    """Two classes of RGB JPEGs and PNGs, not square (so resize and crop both act)."""
    rng = np.random.default_rng(1)
    for c, name in enumerate(["cats", "dogs"]):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) // 2 + 100 * c
            Image.fromarray(pixels).save(root / name / f"{i:03d}.{'jpg' if i % 2 else 'png'}")


def folder_cfg(root, **kw):
    return group_cfg(DatasetConfig, "folder", root=str(root), image_size=16, channels=3, **kw)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test starts from an empty cache."""
    monkeypatch.setenv("GAN_CLI_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def counted(monkeypatch):
    """How many times images were decoded (the folder builder's calls of decode_files)."""
    calls = []
    real = images.decode_files

    def wrapper(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr(images, "decode_files", wrapper)
    return calls


def test_parallel_decode_matches_one_process_and_the_file_by_file_decode(tmp_path):
    photo_folder(tmp_path / "imgs")
    files = images.list_images(tmp_path / "imgs")
    assert len(files) == 80
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.npy"
        assert decode.decode_files(files, out, 16, 3, workers, skip_bad=False) == []
        decoded = np.load(out)
        assert decoded.shape == (80, 3, 16, 16)
        for i in (0, 1, 41, 79):
            assert np.array_equal(decoded[i], decode.decode(files[i], 16, 3))
    assert np.array_equal(np.load(tmp_path / "w1.npy"), np.load(tmp_path / "w2.npy"))
    grey = decode.decode(files[0], 8, 1)
    assert grey.shape == (1, 8, 8) and grey.dtype == np.uint8


def test_second_start_reads_the_cache_and_a_changed_folder_is_decoded_again(tmp_path, counted):
    root = tmp_path / "imgs"
    photo_folder(root)
    first = DATASETS.build(folder_cfg(root, decode_workers=2), 0, CPU)
    second = DATASETS.build(folder_cfg(root, decode_workers=2), 0, CPU)
    assert len(counted) == 1  # the second start decoded nothing
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert first.labels.tolist() == [0] * 40 + [1] * 40
    # another size is another entry
    DATASETS.build(group_cfg(DatasetConfig, "folder", root=str(root), image_size=8, channels=1), 0, CPU)
    assert len(counted) == 2
    # a file rewritten (new size and time): decoded again, and the new pixels are there
    target = root / "cats" / "000.png"
    Image.fromarray(np.full((18, 24, 3), 7, np.uint8)).save(target)
    os.utime(target, ns=(1, 1))
    changed = DATASETS.build(folder_cfg(root), 0, CPU)
    assert len(counted) == 3
    assert (changed.images[0] == 7).all() and not (first.images[0] == 7).all()
    # a file added: decoded again
    Image.fromarray(np.zeros((18, 24, 3), np.uint8)).save(root / "dogs" / "new.png")
    assert len(DATASETS.build(folder_cfg(root), 0, CPU)) == 81
    assert len(counted) == 4


@pytest.mark.parametrize("damage", ["truncate", "overwrite", "meta", "labels"])
def test_a_damaged_entry_is_rebuilt_with_a_warning(tmp_path, counted, caplog, damage):
    root = tmp_path / "imgs"
    photo_folder(root, n_per_class=20)
    good = DATASETS.build(folder_cfg(root), 0, CPU).images.clone()
    (entry,) = [p for p in (cache.cache_dir() / "images").iterdir() if p.is_dir() and "folder" in p.name]
    entry_files = {p.name for p in entry.iterdir()}
    assert {"images.npy", "labels.npy", "meta.json"} <= entry_files
    array = entry / "images.npy"
    if damage == "truncate":
        os.truncate(array, array.stat().st_size - 100)
    elif damage == "overwrite":  # the same size, other bytes in the middle
        with open(array, "r+b") as f:
            f.seek(array.stat().st_size // 2)
            f.write(b"\xff" * 4096)
    elif damage == "meta":
        (entry / "meta.json").write_text("{not json")
    else:
        np.save(entry / "labels.npy", np.zeros(3, np.int64))
    with caplog.at_level(logging.WARNING, logger="gan_cli.data"):
        again = DATASETS.build(folder_cfg(root), 0, CPU)
    assert "damaged" in caplog.text and str(entry) in caplog.text
    assert len(counted) == 2
    assert torch.equal(again.images, good)
    assert cache._open(entry) is not None  # the rebuilt entry is whole


def test_an_unfinished_entry_is_decoded_again(tmp_path, counted):
    root = tmp_path / "imgs"
    photo_folder(root, n_per_class=5)
    DATASETS.build(folder_cfg(root), 0, CPU)
    (entry,) = [p for p in (cache.cache_dir() / "images").iterdir() if p.is_dir() and "folder" in p.name]
    (entry / "meta.json").unlink()  # as if killed before the entry was finished
    (entry / "images.1234.npy").write_bytes(b"half")  # and its temporary file left behind
    DATASETS.build(folder_cfg(root), 0, CPU)
    assert len(counted) == 2 and not (entry / "images.1234.npy").exists()


def test_unreadable_images_are_an_error_naming_the_file_or_skipped_when_asked(tmp_path, caplog):
    root = tmp_path / "imgs"
    photo_folder(root, n_per_class=30)
    bad = [root / "cats" / "broken.jpg", root / "dogs" / "empty.png"]
    bad[0].write_bytes(b"not a jpeg at all")
    bad[1].write_bytes(b"")
    with pytest.raises(UserError, match=r"cannot read image .*broken\.jpg.*dataset\.skip_bad=true"):
        DATASETS.build(folder_cfg(root, decode_workers=2), 0, CPU)
    assert not list((cache.cache_dir() / "images").glob("*/meta.json")) or all(
        json.loads(m.read_text())["bad"] == [] for m in (cache.cache_dir() / "images").glob("*/meta.json")
    )
    with caplog.at_level(logging.WARNING, logger="gan_cli.data"):
        data = DATASETS.build(folder_cfg(root, decode_workers=2, skip_bad=True), 0, CPU)
    assert "skipping 2 unreadable image(s)" in caplog.text
    assert str(bad[0]) in caplog.text and str(bad[1]) in caplog.text
    assert len(data) == 60 and data.labels.tolist() == [0] * 30 + [1] * 30  # labels stay with their images
    good = images.list_images(root)
    good = [p for p in good if p not in bad]
    assert np.array_equal(data.images[35].numpy(), decode.decode(good[35], 16, 3))
    # the cached entry remembers its unreadable files: without skip_bad, still the error
    with pytest.raises(UserError, match="broken.jpg"):
        DATASETS.build(folder_cfg(root), 0, CPU)


def test_torchvision_sets_go_through_the_cache(tmp_path, monkeypatch):
    pixels = fake_mnist(tmp_path)
    first = DATASETS.build(group_cfg(DatasetConfig, "mnist", root=str(tmp_path), image_size=28), 0, CPU)
    monkeypatch.setattr(images, "_torchvision_images", lambda *a: pytest.fail("decoded again"))
    second = DATASETS.build(group_cfg(DatasetConfig, "mnist", root=str(tmp_path), image_size=28), 0, CPU)
    assert torch.equal(second.images[:, 0], torch.from_numpy(pixels))
    assert torch.equal(first.labels, second.labels)


def test_in_memory_picks_the_sampler(tmp_path, monkeypatch):
    root = tmp_path / "imgs"
    photo_folder(root, n_per_class=5)
    assert isinstance(DATASETS.build(folder_cfg(root, in_memory="true"), 0, CPU), TensorSampler)
    assert isinstance(DATASETS.build(folder_cfg(root, in_memory="false"), 0, CPU), StreamSampler)
    # auto: streams when the set would take more than half of the free memory
    nbytes = 10 * 3 * 16 * 16
    monkeypatch.setattr(images, "free_memory", lambda device: 2 * nbytes)
    assert isinstance(DATASETS.build(folder_cfg(root), 0, CPU), TensorSampler)
    monkeypatch.setattr(images, "free_memory", lambda device: 2 * nbytes - 2)
    assert isinstance(DATASETS.build(folder_cfg(root), 0, CPU), StreamSampler)
    # sets made in memory stream from a cache entry too
    digits = group_cfg(DatasetConfig, "digits", image_size=8, in_memory="false")
    streamed = DATASETS.build(digits, 3, CPU)
    held = DATASETS.build(group_cfg(DatasetConfig, "digits", image_size=8, in_memory="true"), 3, CPU)
    assert isinstance(streamed, StreamSampler) and torch.equal(streamed.images, held.images)


def test_in_memory_must_be_auto_true_or_false():
    with pytest.raises(ConfigError, match="dataset.in_memory"):
        check(make_cfg(["dataset.in_memory=sometimes"]))
    for value in ("auto", "true", "false"):
        check(make_cfg([f"dataset.in_memory={value}"]))


def test_an_unwritable_cache_decodes_into_a_temporary_folder(tmp_path, monkeypatch, caplog):
    root = tmp_path / "imgs"
    photo_folder(root, n_per_class=5)

    def read_only(folder):  # what mkdir or open raise on a read-only file system
        raise OSError(errno.EROFS, "Read-only file system", str(folder))

    monkeypatch.setattr(cache, "_locked", read_only)
    with caplog.at_level(logging.WARNING, logger="gan_cli.data"):
        data = DATASETS.build(folder_cfg(root), 0, CPU)
    assert len(data) == 10 and "cannot write the image cache" in caplog.text
    # a full disk: an error naming the cache folder and what to do
    monkeypatch.setattr(cache, "_locked", lambda folder: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(UserError, match=r"no space left .* cache .*GAN_CLI_CACHE"):
        DATASETS.build(folder_cfg(root), 0, CPU)
    # anything else is not hidden
    monkeypatch.setattr(cache, "_locked", lambda folder: (_ for _ in ()).throw(OSError(errno.EIO, "io")))
    with pytest.raises(OSError, match="io"):
        DATASETS.build(folder_cfg(root), 0, CPU)


def _build_in_child(args):
    folder, marker = args
    import time as _time

    def build(tmp):
        with open(marker, "a") as f:
            f.write("decoded\n")
        _time.sleep(0.5)  # long enough for the other process to arrive while this one builds
        np.save(tmp, np.full((4, 1, 2, 2), 9, np.uint8))
        return None, []

    entry = cache.cached("shared", {"folder": folder}, build)
    return int(entry.load().sum())


def test_jobs_starting_together_wait_for_one_decode(tmp_path):
    import multiprocessing

    marker = tmp_path / "decodes.txt"
    with multiprocessing.get_context("fork").Pool(2) as pool:
        sums = pool.map(_build_in_child, [("x", str(marker))] * 2)
    assert sums == [9 * 16, 9 * 16]
    assert marker.read_text() == "decoded\n"  # one decode; the other job read its entry


def test_the_start_logs_where_the_cache_is_and_how_big(tmp_path, caplog):
    root = tmp_path / "imgs"
    photo_folder(root, n_per_class=5)
    with caplog.at_level(logging.INFO, logger="gan_cli.data"):
        DATASETS.build(folder_cfg(root, in_memory="false"), 0, CPU)
    (line,) = [r.getMessage() for r in caplog.records if "cached in" in r.getMessage()]
    assert "10 images of 3x16x16 (7.5 KB)" in line and str(cache.cache_dir() / "images") in line
    assert "streamed" in line
