"""Image datasets at the configured size and channels, as uint8 arrays: held on the training device
(`TensorSampler`) or streamed from the decoded-image cache (`StreamSampler`), by `dataset.in_memory`.

Sets decoded from files (folder, MNIST, Fashion-MNIST, CIFAR-10) go through the cache (gan_cli.data.cache)
at every start: the first start decodes, later ones read the cached array.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.transforms.v2 import functional as TF

from gan_cli import checkpoint
from gan_cli.data.base import DATASETS, Sampler, TensorSampler
from gan_cli.data.cache import Entry, MappedImages, cached, file_stats
from gan_cli.data.decode import decode_files, drop_rows
from gan_cli.data.stream import StreamSampler
from gan_cli.errors import UserError
from gan_cli.hardware import free_memory

log = logging.getLogger("gan_cli.data")


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


def in_memory(cfg, nbytes: int, device: torch.device) -> bool:
    """dataset.in_memory: true, false, or auto (in memory unless the set would take more than half of the
    training device's free memory)."""
    value = str(cfg.get("in_memory", "auto")).lower()
    if value in ("true", "false"):
        return value == "true"
    return nbytes <= free_memory(device) // 2


def _size(nbytes: int) -> str:
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.2f} GB"
    return f"{nbytes / 2**20:.1f} MB" if nbytes >= 2**20 else f"{nbytes / 2**10:.1f} KB"


def from_entry(entry: Entry, cfg, seed: int, device: torch.device) -> Sampler:
    """The sampler over a cache entry: the array read into memory, or streamed from the mapped file."""
    memory = in_memory(cfg, entry.nbytes, device)
    n, c, h, w = entry.shape
    log.info(
        "dataset %s: %d images of %dx%dx%d (%s), cached in %s; %s",
        cfg.name,
        n,
        c,
        h,
        w,
        _size(entry.nbytes),
        entry.folder,
        f"held on {device.type}" if memory else "streamed from the cache (dataset.in_memory=false)",
    )
    labels = None if entry.labels is None else torch.from_numpy(entry.labels)
    if memory:
        return TensorSampler(torch.from_numpy(entry.load()), seed, device, labels)
    return StreamSampler(MappedImages(entry.images_path), seed, device, labels)


def _sampler(images: torch.Tensor, labels, cfg, seed: int, device: torch.device) -> Sampler:
    """A set built in memory (digits, fake): held there, or (in_memory=false, or too large for auto)
    written to the cache once and streamed from it."""
    labels = None if labels is None else _limit(torch.as_tensor(np.asarray(labels), dtype=torch.int64), cfg)
    images = prepare(_limit(images, cfg), cfg.image_size, cfg.channels)
    if in_memory(cfg, images.numel(), device):
        return TensorSampler(images, seed, device, labels)
    key = {"sha256": _digest(images), "labels": None if labels is None else _digest(labels)}

    def build(tmp: Path):
        np.save(tmp, images.numpy())
        return None if labels is None else labels.numpy(), []

    return from_entry(cached(cfg.name, key, build), cfg, seed, device)


def _digest(t: torch.Tensor) -> str:
    import hashlib

    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


@DATASETS.register("digits")
def digits(cfg, seed: int, device: torch.device) -> Sampler:
    # Imported here, after the run has seeded the global RNGs: recent scikit-learn imports rich, whose
    # rich/style.py draws from Python's global RNG at import time. A first import would then shift the
    # `random` stream (saved in checkpoints) in a fresh process but not in one that already imported it, and
    # resume would no longer be bitwise exact. So the global states are kept across the import.
    state = checkpoint.rng_state()
    from sklearn.datasets import load_digits

    checkpoint.set_rng_state(state)
    bunch = load_digits()
    x = bunch.images  # [1797, 8, 8], values 0..16
    images = torch.from_numpy(np.round(x * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    return _sampler(images, bunch.target, cfg, seed, device)


def _torchvision_images(cls, cfg, expected: str) -> tuple[torch.Tensor, list[int]]:
    root = Path(cfg.root).expanduser()
    try:
        ds = cls(str(root), train=cfg.get("split", "train") == "train", download=cfg.download)
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


def _torchvision(cls, cfg, expected: str, seed: int, device: torch.device) -> Sampler:
    """A torchvision dataset through the cache, keyed by its files in dataset.root/expected."""
    folder = Path(cfg.root).expanduser() / expected

    def files() -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []

    if not files():
        _torchvision_images(cls, cfg, expected)  # downloads them (dataset.download=true) or explains

    def build(tmp: Path):
        images, labels = _torchvision_images(cls, cfg, expected)
        np.save(tmp, prepare(_limit(images, cfg), cfg.image_size, cfg.channels).numpy())
        return _limit(torch.as_tensor(np.asarray(labels), dtype=torch.int64), cfg).numpy(), []

    key = {"files": file_stats(files()), "size": cfg.image_size, "channels": cfg.channels}
    key["n"], key["split"] = cfg.num_samples, cfg.get("split", "train")
    return from_entry(cached(cfg.name, key, build), cfg, seed, device)


@DATASETS.register("mnist")
def mnist(cfg, seed: int, device: torch.device) -> Sampler:
    return _torchvision(torchvision.datasets.MNIST, cfg, "MNIST/raw", seed, device)


@DATASETS.register("fashion_mnist")
def fashion_mnist(cfg, seed: int, device: torch.device) -> Sampler:
    return _torchvision(torchvision.datasets.FashionMNIST, cfg, "FashionMNIST/raw", seed, device)


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
def cifar10(cfg, seed: int, device: torch.device) -> Sampler:
    return _torchvision(_CIFAR10, cfg, "cifar-10-batches-py", seed, device)


def list_images(root: Path) -> list[Path]:
    """The image files under root (and its sub-folders), sorted by path."""
    exts = {e.lower() for e in torchvision.datasets.folder.IMG_EXTENSIONS}
    found, folders = [], [os.path.abspath(root)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for e in entries:
                if e.is_dir():
                    folders.append(e.path)
                elif os.path.splitext(e.name)[1].lower() in exts and e.is_file():
                    found.append(e.path)
    found.sort(key=lambda path: path.split(os.sep))  # Path's order (by parts), without making 1e5 Paths first
    return [Path(path) for path in found]


def folder_labels(root: Path, files: list[Path]) -> np.ndarray | None:
    """Sub-folders name the classes (torchvision's ImageFolder layout), when there are at least two and
    every image is in one."""
    parts = [p.relative_to(root).parts for p in files]
    classes = sorted({q[0] for q in parts if len(q) > 1})
    if len(classes) < 2 or any(len(q) == 1 for q in parts):
        return None
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[q[0]] for q in parts], dtype=np.int64)


@DATASETS.register("folder")
def folder(cfg, seed: int, device: torch.device) -> Sampler:
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise UserError(f"dataset.root={cfg.root!r}: no such folder. Point it at a folder of images.")
    files = list_images(root)
    if cfg.num_samples > 0:
        files = files[: cfg.num_samples]
    if not files:
        exts = sorted({e.lower() for e in torchvision.datasets.folder.IMG_EXTENSIONS})
        raise UserError(
            f"dataset.root={cfg.root!r} holds no images (looked for {', '.join(exts)}, "
            "in the folder and its sub-folders)."
        )
    labels = folder_labels(root, files)

    def build(tmp: Path):
        bad = decode_files(files, tmp, cfg.image_size, cfg.channels, cfg.decode_workers, cfg.skip_bad)
        if bad:
            compact = tmp.with_name(f"compact.{tmp.name}")
            drop_rows(tmp, compact, bad)
            os.replace(compact, tmp)
        kept = None if labels is None else np.delete(labels, bad)
        return kept, [str(files[i]) for i in bad]

    key = {"files": file_stats(files), "size": cfg.image_size, "channels": cfg.channels}
    entry = cached("folder", key, build)
    if entry.bad:
        report_bad(entry.bad, cfg.skip_bad)
    if entry.shape[0] == 0:
        raise UserError(f"dataset.root={cfg.root!r}: none of its {len(files)} images could be read.")
    return from_entry(entry, cfg, seed, device)


def report_bad(bad: list[str], skip: bool) -> None:
    """Unreadable files: an error naming the first (dataset.skip_bad=false), else one warning listing them."""
    if not skip:
        raise UserError(
            f"cannot read image {bad[0]} ({len(bad)} unreadable file(s) in all). Remove or replace it, or "
            "set dataset.skip_bad=true to train on the readable images."
        )
    shown = "\n  ".join(bad[:50]) + (f"\n  ... and {len(bad) - 50} more" if len(bad) > 50 else "")
    log.warning("skipping %d unreadable image(s) (dataset.skip_bad=true):\n  %s", len(bad), shown)


@DATASETS.register("fake")
def fake(cfg, seed: int, device: torch.device) -> Sampler:
    n = cfg.num_samples or 1024
    gen = torch.Generator().manual_seed(seed + 1)
    shape = (n, cfg.channels, cfg.image_size, cfg.image_size)
    return _sampler(torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen), None, cfg, seed, device)
