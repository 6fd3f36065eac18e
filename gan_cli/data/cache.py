"""The decoded-image cache: a dataset decoded once, at its size and channels, and read by every later run.

An entry is a folder `<cache>/images/<name>-<key>/` holding `images.npy` (uint8 [N, C, S, S]), `labels.npy`
when the set has classes, and `meta.json`, written last, so an entry without it was never finished. The
key is a hash of what the images are made from (for a folder: every file's path, size and modification
time) and of `image_size` and `channels`, so a changed folder or size is a new entry. Opening an entry
checks its shape, its file size and a checksum of 64 blocks spread over the array; a damaged entry is
decoded again, with a warning. The cache folder is the one the classifiers use (gan_cli.files.cache_dir).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import mmap
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_cli.errors import UserError
from gan_cli.files import cache_dir, write_json

log = logging.getLogger("gan_cli.data")
VERSION = 1  # bump when decoding changes: old entries are then ignored
BLOCKS, BLOCK = 64, 4096  # the checksum: 64 blocks of 4 KiB, spread over the file


@dataclass
class Entry:
    """A finished cache entry."""

    folder: Path
    shape: tuple[int, ...]  # [N, C, S, S]
    labels: np.ndarray | None  # int64 [N]
    bad: list[str]  # files that could not be read (skipped)

    @property
    def images_path(self) -> Path:
        return self.folder / "images.npy"

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape))

    def load(self) -> np.ndarray:
        """The whole array, read into memory."""
        return np.load(self.images_path)


def file_stats(files: list[Path]) -> list[tuple[str, int, int]]:
    """What a key is made of for a list of files: (absolute path, size, modification time in ns)."""
    out = []
    for p in files:
        path = os.path.abspath(p)
        st = os.stat(path)
        out.append((path, st.st_size, st.st_mtime_ns))
    return out


def entry_folder(name: str, key_parts: object) -> Path:
    digest = hashlib.sha256(json.dumps([VERSION, key_parts], sort_keys=True).encode()).hexdigest()
    return cache_dir() / "images" / f"{name}-{digest[:16]}"


def checksum(path: Path) -> int:
    """crc32 of BLOCKS blocks spread evenly over the file (and its last block): catches truncation,
    overwritten regions and swapped files without reading a large array whole."""
    size = path.stat().st_size
    crc = zlib.crc32(str(size).encode())
    with open(path, "rb") as f:
        if size <= BLOCKS * BLOCK * 4:
            return zlib.crc32(f.read(), crc)
        for i in range(BLOCKS + 1):
            f.seek(min(i * (size // BLOCKS), size - BLOCK))
            crc = zlib.crc32(f.read(BLOCK), crc)
    return crc


def _open(folder: Path) -> Entry | None:
    """The entry in `folder`, or None when there is none; a damaged one is reported and removed."""
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        images_path = folder / "images.npy"
        shape = tuple(np.load(images_path, mmap_mode="r").shape)
        if shape != tuple(meta["shape"]) or images_path.stat().st_size != meta["file_bytes"]:
            raise ValueError(f"images.npy holds {shape}, the entry says {tuple(meta['shape'])}")
        if checksum(images_path) != meta["checksum"]:
            raise ValueError("images.npy does not match its checksum")
        labels = np.load(folder / "labels.npy") if meta["labels"] else None
        if labels is not None and labels.shape != (shape[0],):
            raise ValueError(f"labels.npy holds {labels.shape} labels for {shape[0]} images")
    except Exception as err:  # any damage: decode again
        log.warning("the cached image set in %s is damaged (%s); decoding the images again", folder, err)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return Entry(folder, shape, labels, list(meta.get("bad", [])))


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One process builds an entry; the others (the jobs of a parallel sweep, data-parallel ranks) wait and
    then read it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "a") as f:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


Build = Callable[[Path], tuple[np.ndarray | None, list[str]]]  # (tmp images.npy path) -> (labels, bad files)


def cached(name: str, key_parts: object, build: Build) -> Entry:
    """The entry for (name, key_parts), built now by `build` when missing or damaged. `build` writes the
    images to the path it is given. Where the cache folder cannot be written, the set is decoded into a
    temporary folder instead (and again at the next start)."""
    folder = entry_folder(name, key_parts)
    try:
        with _locked(folder):
            return _open(folder) or _build(folder, build)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise UserError(
                f"no space left to cache the decoded images in {folder.parent} ({_size_of(key_parts)}). Free "
                "some space, or point GAN_CLI_CACHE at a folder on a larger disk."
            ) from None
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        tmp = Path(tempfile.mkdtemp(prefix=f"gan-cli-{name}-"))
        log.warning("cannot write the image cache in %s (%s); decoding into %s instead", folder, err, tmp)
        return _build(tmp, build)


def _size_of(key_parts: object) -> str:
    files = key_parts.get("files") if isinstance(key_parts, dict) else None
    return f"decoded from {len(files)} files" if files else "a decoded image set"


def _build(folder: Path, build: Build) -> Entry:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():  # a build that was killed half way
        stale.unlink()
    tmp = folder / f"images.{os.getpid()}.npy"
    try:
        labels, bad = build(tmp)
        shape = tuple(np.load(tmp, mmap_mode="r").shape)
        os.replace(tmp, folder / "images.npy")
    finally:
        tmp.unlink(missing_ok=True)
    if labels is not None:
        np.save(folder / "labels.npy", np.asarray(labels, dtype=np.int64))
    images_path = folder / "images.npy"
    meta = {
        "version": VERSION,
        "shape": list(shape),
        "file_bytes": images_path.stat().st_size,
        "checksum": checksum(images_path),
        "labels": labels is not None,
        "bad": bad,
    }
    write_json(meta, folder / "meta.json")  # last: the entry is finished
    return Entry(folder, shape, None if labels is None else np.asarray(labels, dtype=np.int64), bad)


class MappedImages:
    """A cached images.npy, memory-mapped: rows are read from the page cache when asked for.

    Mapped pages count as the process's resident memory once touched, so `release()` (called every
    RELEASE_BYTES read) drops them from this process; the kernel keeps the file in its page cache, so the
    next read of them costs no disk access while memory is free.
    """

    RELEASE_BYTES = 32 << 20

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0}.get(
                version, np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
            # private (copy-on-write) mapping: a writable view for torch.from_numpy; nothing is ever written
            self.mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        assert dtype == np.uint8 and not fortran and len(shape) == 4, f"{path}: not uint8 [N, C, S, S]"
        self.path, self.shape = path, tuple(shape)
        self.array = np.frombuffer(self.mm, dtype=np.uint8, count=int(np.prod(shape)), offset=offset)
        self.array = self.array.reshape(shape)
        self.row_bytes = int(np.prod(shape[1:]))
        self._read = 0

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Rows `idx` (in that order) into `out` [len(idx), C, S, S]."""
        np.take(self.array, idx, axis=0, out=out)
        self._read += len(idx) * self.row_bytes
        if self._read >= self.RELEASE_BYTES:
            self.release()
        return out

    def release(self) -> None:
        self._read = 0
        if hasattr(mmap, "MADV_DONTNEED"):
            self.mm.madvise(mmap.MADV_DONTNEED)
