"""data/images.py: every image dataset from files built here (never downloaded)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.data import DATASETS
from gan_cli.errors import UserError
from gan_cli.schema import DatasetConfig
from tests.helpers import (
    fake_mnist,
    group_cfg,
)

CPU = torch.device("cpu")


def data_cfg(name: str, **kw):
    return group_cfg(DatasetConfig, name, **kw)


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


def test_loading_the_digits_in_a_fresh_process_leaves_the_global_rngs_alone():
    """A run seeds Python's and numpy's RNGs before it loads its data, and checkpoints save their states:
    a first import of scikit-learn (which imports rich, which draws from `random`) must not shift them."""
    code = (
        "import random, numpy as np, torch\n"
        "from gan_cli.data import DATASETS\n"
        "from gan_cli.schema import DatasetConfig\n"
        "from tests.helpers import group_cfg\n"
        "random.seed(3); np.random.seed(3)\n"
        "before = random.getstate(), np.random.get_state()[1].copy()\n"
        "DATASETS.build(group_cfg(DatasetConfig, 'digits', image_size=8), 0, torch.device('cpu'))\n"
        "assert random.getstate() == before[0], 'random moved'\n"
        "assert (np.random.get_state()[1] == before[1]).all(), 'numpy moved'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


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


def test_split_test_reads_the_test_files(tmp_path):
    images = fake_mnist(tmp_path)
    test = DATASETS.build(data_cfg("mnist", root=str(tmp_path), image_size=28, split="test"), 0, CPU)
    assert len(test) == 5 and torch.equal(test.images[:, 0], torch.from_numpy(images[:5]))
    train = DATASETS.build(data_cfg("mnist", root=str(tmp_path), image_size=28), 0, CPU)
    assert len(train) == 20  # another cache entry


def test_split_is_refused_where_there_is_no_test_set():
    from gan_cli.errors import ConfigError
    from gan_cli.schema import check
    from tests.helpers import make_cfg

    with pytest.raises(ConfigError, match="dataset.split"):
        check(make_cfg(["dataset.split=test"]))  # digits
    with pytest.raises(ConfigError, match="dataset.split"):
        check(make_cfg(["dataset=mnist", "dataset.split=validation"]))
    check(make_cfg(["dataset=mnist", "dataset.split=test"]))
