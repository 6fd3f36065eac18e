"""Image files -> one uint8 array file [N, C, S, S], decoded on all cores.

Each worker process opens the array file (a .npy, memory-mapped) and writes its images in place, so no
pixels travel between processes. JPEGs are decoded at a reduced scale when that still covers the target
size (libjpeg's DCT scaling, `Image.draft`): at 128 -> 64 pixels this is the larger part of the speed.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gan_cli.errors import UserError

log = logging.getLogger("gan_cli.data")
MIN_PARALLEL = 64  # fewer images than this: decode in this process (a pool costs more than it saves)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def decode(path: str | Path, size: int, channels: int) -> np.ndarray:
    """One image file -> uint8 [channels, size, size]: the shorter side resized to `size` (PIL's
    antialiased bilinear filter), then the centre cropped."""
    from PIL import Image

    mode = "RGB" if channels == 3 else "L"
    with Image.open(path) as im:
        im.draft(mode, (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when still >= size
        im = im.convert(mode)
        w, h = im.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        if (nw, nh) != (w, h):
            im = im.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - size) // 2, (nh - size) // 2
        pixels = np.asarray(im.crop((left, top, left + size, top + size)))
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _decode_chunk(job: tuple) -> tuple[int, int, list[tuple[int, str]]]:
    """Decode files[start:start+len] into rows of the array file; (start, count, [(index, error)])."""
    out_path, start, paths, size, channels = job
    out = np.load(out_path, mmap_mode="r+")
    bad = []
    for i, path in enumerate(paths):
        try:
            out[start + i] = decode(path, size, channels)
        except Exception as err:  # PIL raises UnidentifiedImageError, OSError, ValueError, SyntaxError...
            bad.append((start + i, f"{type(err).__name__}: {err}"))
    del out  # no msync: the pages are in the kernel's page cache, which every reader of the file sees
    return start, len(paths), bad


def _pool(workers: int):
    # fork: the workers start at once and import nothing (they use PIL and numpy alone, no torch threads)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ctx.Pool(workers)


def decode_files(
    files: list[Path], out_path: Path, size: int, channels: int, workers: int, skip_bad: bool
) -> list[int]:
    """Decode `files` into a new .npy at out_path (uint8 [N, C, size, size]); the indices of unreadable
    files, whose rows stay zero. With skip_bad false, the first unreadable file stops the decode with a
    UserError naming it."""
    n = len(files)
    np.lib.format.open_memmap(out_path, mode="w+", dtype=np.uint8, shape=(n, channels, size, size)).flush()
    workers = max(1, min(workers or available_cores(), math.ceil(n / MIN_PARALLEL)))
    chunk = max(16, min(256, math.ceil(n / (workers * 8))))
    paths = [str(p) for p in files]
    jobs = [(str(out_path), i, paths[i : i + chunk], size, channels) for i in range(0, n, chunk)]
    bad: list[tuple[int, str]] = []
    bar = tqdm(total=n, desc=f"decoding {n} images ({workers} processes)", unit="img", disable=None)
    pool = _pool(workers) if workers > 1 else None
    try:
        results = pool.imap(_decode_chunk, jobs) if pool else map(_decode_chunk, jobs)
        for _, count, chunk_bad in results:
            bar.update(count)
            bad += chunk_bad
            if chunk_bad and not skip_bad:
                index, err = chunk_bad[0]
                raise UserError(
                    f"cannot read image {files[index]}: {err}. Remove or replace the file, or set "
                    "dataset.skip_bad=true to train on the readable images (the unreadable ones are then "
                    "listed once in the log)."
                )
    finally:
        bar.close()
        if pool:
            pool.terminate()
            pool.join()
    return [index for index, _ in sorted(bad)]


def drop_rows(src: Path, dst: Path, drop: list[int], block: int = 4096) -> None:
    """Copy the .npy at src to dst without the rows in `drop`, a block of rows at a time."""
    images = np.load(src, mmap_mode="r")
    keep = np.setdiff1d(np.arange(len(images)), np.asarray(drop, dtype=np.int64))
    out = np.lib.format.open_memmap(dst, mode="w+", dtype=np.uint8, shape=(len(keep), *images.shape[1:]))
    for i in range(0, len(keep), block):
        out[i : i + block] = images[keep[i : i + block]]
    out.flush()
    del out, images
