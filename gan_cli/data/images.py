"""Image datasets, loaded once into a uint8 tensor at the configured size and channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.transforms.v2 import functional as TF

from gan_cli.data.base import DATASETS, TensorSampler
from gan_cli.errors import UserError


def prepare(images: torch.Tensor, image_size: int, channels: int) -> torch.Tensor:
    """uint8 [N, C, H, W] at any size -> uint8 [N, channels, image_size, image_size]."""
    if images.shape[1] != channels:
        if channels == 3:
            images = images.expand(-1, 3, -1, -1)
        else:
            images = TF.rgb_to_grayscale(images)
    if images.shape[-2:] != (image_size, image_size):
        images = TF.center_crop(TF.resize(images, image_size, antialias=True), image_size)
    return images.contiguous()


def _limit(images: torch.Tensor, cfg) -> torch.Tensor:
    return images[: cfg.num_samples] if cfg.num_samples > 0 else images


def _sampler(images: torch.Tensor, labels, cfg, seed: int, device: torch.device) -> TensorSampler:
    labels = _limit(torch.as_tensor(np.asarray(labels), dtype=torch.int64), cfg)
    return TensorSampler(prepare(_limit(images, cfg), cfg.image_size, cfg.channels), seed, device, labels)


@DATASETS.register("digits")
def digits(cfg, seed: int, device: torch.device) -> TensorSampler:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images  # [1797, 8, 8], values 0..16
    images = torch.from_numpy(np.round(x * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    return _sampler(images, bunch.target, cfg, seed, device)


def _torchvision_images(cls, cfg, expected: str) -> tuple[torch.Tensor, list[int]]:
    root = Path(cfg.root).expanduser()
    try:
        ds = cls(str(root), train=True, download=cfg.download)
    except Exception as err:  # torchvision raises RuntimeError, URLError, OSError, ... for missing files
        how = (
            "the download failed (is there internet access?)"
            if cfg.download
            else "the files are missing and dataset.download=false"
        )
        raise UserError(
            f"cannot load dataset '{cfg.name}': {how}. Expected its files in {root / expected} "
            f"(set dataset.root to the folder that holds {expected}). Underlying error: {err}. "
            f"To train without any download, use the bundled digits: dataset=digits."
        ) from None
    data = torch.as_tensor(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)  # [N, C, H, W]
    return images, ds.targets


@DATASETS.register("mnist")
def mnist(cfg, seed: int, device: torch.device) -> TensorSampler:
    return _sampler(*_torchvision_images(torchvision.datasets.MNIST, cfg, "MNIST/raw"), cfg, seed, device)


@DATASETS.register("fashion_mnist")
def fashion_mnist(cfg, seed: int, device: torch.device) -> TensorSampler:
    return _sampler(
        *_torchvision_images(torchvision.datasets.FashionMNIST, cfg, "FashionMNIST/raw"), cfg, seed, device
    )


class _CIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR-10 reader; files must exist and parse, but re-packed copies (other md5) load."""

    def _check_integrity(self) -> bool:
        folder = Path(self.root) / self.base_folder
        return all((folder / name).is_file() for name, _ in self.train_list + self.test_list)

    def _load_meta(self) -> None:
        import pickle

        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


@DATASETS.register("cifar10")
def cifar10(cfg, seed: int, device: torch.device) -> TensorSampler:
    return _sampler(*_torchvision_images(_CIFAR10, cfg, "cifar-10-batches-py"), cfg, seed, device)


@DATASETS.register("folder")
def folder(cfg, seed: int, device: torch.device) -> TensorSampler:
    from PIL import Image, UnidentifiedImageError

    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise UserError(f"dataset.root={cfg.root!r}: no such folder. Point it at a folder of images.")
    exts = {e.lower() for e in torchvision.datasets.folder.IMG_EXTENSIONS}
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in exts and p.is_file())
    if cfg.num_samples > 0:
        files = files[: cfg.num_samples]
    if not files:
        raise UserError(
            f"dataset.root={cfg.root!r} holds no images (looked for {', '.join(sorted(exts))}, "
            "in the folder and its sub-folders)."
        )
    mode = "RGB" if cfg.channels == 3 else "L"
    images = []
    for path in files:
        try:
            with Image.open(path) as im:
                t = TF.pil_to_tensor(im.convert(mode))  # [C, h, w] uint8
        except (UnidentifiedImageError, OSError) as err:
            raise UserError(f"cannot read image {path}: {err}. Remove or replace the file.") from None
        images.append(TF.center_crop(TF.resize(t, cfg.image_size, antialias=True), cfg.image_size))
    # Sub-folders name the classes (torchvision's ImageFolder layout), when there are at least two.
    classes = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    labels = None
    if len(classes) >= 2 and all(len(p.relative_to(root).parts) > 1 for p in files):
        index = {c: i for i, c in enumerate(classes)}
        labels = torch.tensor([index[p.relative_to(root).parts[0]] for p in files])
    return TensorSampler(torch.stack(images), seed, device, labels)


@DATASETS.register("fake")
def fake(cfg, seed: int, device: torch.device) -> TensorSampler:
    n = cfg.num_samples or 1024
    gen = torch.Generator().manual_seed(seed + 1)
    shape = (n, cfg.channels, cfg.image_size, cfg.image_size)
    return TensorSampler(torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen), seed, device)
