"""Datasets through the real loaders, on tiny files written in the real formats (nothing is downloaded)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.data import DATASETS
from gan_cli.data.mixtures import grid_centers, ring_centers
from gan_cli.errors import UserError
from gan_cli.schema import DatasetConfig
from tests.conftest import group_cfg, make_cfg

CPU = torch.device("cpu")


def data_cfg(name: str, **kw):
    return group_cfg(DatasetConfig, name, **kw)


def write_idx(folder: Path, prefix: str, images: np.ndarray) -> None:
    """MNIST's IDX files: big-endian magic, counts, then raw bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">iiii", 2051, n, h, w) + images.tobytes()
    )
    labels = (np.arange(n) % 10).astype(np.uint8)
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 2049, n) + labels.tobytes())


def fake_mnist(root: Path, sub: str = "MNIST", n: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    write_idx(root / sub / "raw", "train", images)
    write_idx(root / sub / "raw", "t10k", images[:5])
    return images


@pytest.mark.parametrize(("name", "sub"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_formats_load_through_torchvision(tmp_path, name, sub):
    images = fake_mnist(tmp_path, sub)
    data = DATASETS.build(data_cfg(name, root=str(tmp_path), image_size=28), 0, CPU)
    assert len(data) == 20 and data.shape == (1, 28, 28)
    # the stored tensor is the file's pixels, untouched
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    batch = data.next(8)
    assert batch.shape == (8, 1, 28, 28) and batch.min() >= -1 and batch.max() <= 1


def test_mnist_resized_to_rgb_64(tmp_path):
    fake_mnist(tmp_path)
    data = DATASETS.build(data_cfg("mnist", root=str(tmp_path), image_size=64, channels=3), 0, CPU)
    assert data.shape == (3, 64, 64)
    assert torch.equal(data.images[:, 0], data.images[:, 1])  # grey copied to RGB


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_files_name_the_folder_and_suggest_digits(tmp_path, name):
    with pytest.raises(UserError) as err:
        DATASETS.build(data_cfg(name, root=str(tmp_path / "nowhere")), 0, CPU)
    message = str(err.value)
    assert str(tmp_path / "nowhere") in message and "dataset=digits" in message
    assert "download" in message


def test_cifar10_format(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    batches = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        batches.append(data)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": [0, 1, 2, 3]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    data = DATASETS.build(data_cfg("cifar10", root=str(tmp_path), image_size=32, channels=3), 0, CPU)
    assert len(data) == 20 and data.shape == (3, 32, 32)  # the five training batches
    expected = torch.from_numpy(batches[0][0].reshape(3, 32, 32))
    assert torch.equal(data.images[0], expected)


def test_folder_of_images_flat_and_with_classes(tmp_path):
    for i in range(3):
        Image.new("RGB", (40, 30), (i * 80, 10, 200)).save(tmp_path / f"flat{i}.png")
    (tmp_path / "cats").mkdir()
    Image.new("L", (16, 50), 128).save(tmp_path / "cats" / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    data = DATASETS.build(data_cfg("folder", root=str(tmp_path), image_size=16, channels=3), 0, CPU)
    assert len(data) == 4 and data.shape == (3, 16, 16)
    grey = DATASETS.build(data_cfg("folder", root=str(tmp_path), image_size=8, channels=1), 0, CPU)
    assert grey.shape == (1, 8, 8)


def test_folder_errors_name_the_path(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        DATASETS.build(data_cfg("folder", root=str(tmp_path / "missing")), 0, CPU)
    with pytest.raises(UserError, match="holds no images"):
        DATASETS.build(data_cfg("folder", root=str(tmp_path)), 0, CPU)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(UserError, match="broken.png"):
        DATASETS.build(data_cfg("folder", root=str(tmp_path)), 0, CPU)


def test_digits_are_bundled_and_upscaled():
    data = DATASETS.build(data_cfg("digits", image_size=8), 0, CPU)
    assert len(data) == 1797 and data.shape == (1, 8, 8)
    assert data.images.max() == 255 and data.images.min() == 0
    big = DATASETS.build(data_cfg("digits", image_size=16), 0, CPU)
    assert big.shape == (1, 16, 16)
    assert DATASETS.build(data_cfg("digits", num_samples=100), 0, CPU).images.shape[0] == 100


def test_fake_images():
    data = DATASETS.build(data_cfg("fake", image_size=32, channels=3, num_samples=10), 0, CPU)
    assert len(data) == 10 and data.next(4).shape == (4, 3, 32, 32)


def test_tensor_sampler_epochs_visit_every_image_once_and_restore_exactly():
    data = DATASETS.build(data_cfg("digits", image_size=8, num_samples=50), 3, CPU)
    idx = torch.cat([data.next_indices(16) for _ in range(3)] + [data.next_indices(2)])  # one epoch
    assert sorted(idx.tolist()) == list(range(50))
    data.next_indices(7)  # part-way through the second epoch
    state = data.state_dict()
    ahead = [data.next(13) for _ in range(6)]  # crosses an epoch boundary
    data.load_state_dict(state)
    again = [data.next(13) for _ in range(6)]
    assert all(torch.equal(a, b) for a, b in zip(ahead, again, strict=True))
    assert data.next(120).shape[0] == 120  # batches larger than the dataset span epochs


def test_ring_and_grid_are_the_pacgan_mixtures():
    ring = ring_centers()
    assert ring.shape == (8, 2)
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    assert torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-6)  # i=2: (cos pi/2, sin pi/2)
    grid = grid_centers()
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0] and grid.shape == (25, 2)
    ring_data = DATASETS.build(make_cfg(["dataset=ring"]).dataset, 0, CPU)
    grid_data = DATASETS.build(make_cfg(["dataset=grid"]).dataset, 0, CPU)
    assert torch.equal(ring_data.centers, ring) and torch.equal(grid_data.centers, grid)
    assert ring_data.std == 0.01 and grid_data.std == 0.05  # the benchmark defaults


def test_mixture_samples_have_the_right_spread_and_density():
    data = DATASETS.build(make_cfg(["dataset=grid"]).dataset, 0, CPU)
    x = data.next(20000)
    nearest = torch.cdist(x, data.centers).argmin(1)
    offsets = x - data.centers[nearest]
    assert offsets.std().item() == pytest.approx(0.05, rel=0.05)
    counts = torch.bincount(nearest, minlength=25).float()
    assert counts.min() > 0.8 * 20000 / 25  # all modes, about equally
    # the log density integrates the mixture: at a centre, log(1/(25 * 2 pi sigma^2))
    expected = -np.log(25 * 2 * np.pi * 0.05**2)
    assert data.log_density(data.centers[:1]).item() == pytest.approx(expected, rel=1e-4)
    state = data.state_dict()
    a = data.next(5)
    data.load_state_dict(state)
    assert torch.equal(a, data.next(5))
