"""Streaming an image set from its memory-mapped cache (`dataset.in_memory=false`).

The rows of a batch are gathered from the mapped file by a background thread a few batches ahead (into
pinned memory on CUDA, so the copy to the device is asynchronous). The order is the in-memory sampler's
`Order`, from the same seed, so a seed trains on the same batches in both modes; the thread works on a
copy of the order, and the sampler's own order, saved in checkpoints, advances only when a batch is
handed out, so resume is exact.
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import torch
from torch import Tensor

from gan_cli.data.base import Order, Sampler, to_unit
from gan_cli.data.cache import MappedImages


def read_rows(source: MappedImages, idx: Tensor, pin: bool) -> Tensor:
    """Rows idx of the file as a uint8 CPU tensor (pinned, for an asynchronous copy to a GPU)."""
    out = torch.empty((len(idx), *source.shape[1:]), dtype=torch.uint8, pin_memory=pin)
    source.take(idx.numpy(), out.numpy())
    return out


class _Prefetcher:
    """A thread that reads the next `depth` batches of size n along its own copy of the order."""

    def __init__(self, source: MappedImages, pin: bool, order: Order, n: int, depth: int) -> None:
        self.source, self.pin, self.order, self.n = source, pin, order, n  # no reference to the sampler
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gan-cli-prefetch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                idx = self.order.next_indices(self.n)
                item = (idx, read_rows(self.source, idx, self.pin), None)
            except Exception as err:  # handed to the training thread, which raises it
                item = (None, None, err)
            while not self.stop.is_set():
                try:
                    self.queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item[2] is not None:
                return

    def get(self) -> tuple[Tensor, Tensor]:
        idx, raw, err = self.queue.get()
        if err is not None:
            raise err
        return idx, raw

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


class StreamSampler(Sampler):
    """Batches read from a memory-mapped uint8 [N, C, H, W] file, prefetched by a thread."""

    kind = "image"

    def __init__(
        self,
        source: MappedImages,
        seed: int,
        device: torch.device,
        labels: Tensor | None = None,
        depth: int = 4,
    ) -> None:
        self.source = source
        self.shape = tuple(source.shape[1:])
        self.device = device
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.int64)
        self.device_labels = None if labels is None else self.labels.to(device)
        self.order = Order(len(source), seed, torch.device("cpu"))
        self.memory_format = torch.contiguous_format
        self.depth = depth
        self.pin = device.type == "cuda"
        self._prefetcher: _Prefetcher | None = None

    def __len__(self) -> int:
        return len(self.source)

    @property
    def images(self) -> Tensor:
        """The whole set as a CPU tensor over the mapped file (for evaluation's classifier)."""
        return torch.from_numpy(self.source.array)

    def _raw(self, idx: Tensor, n: int) -> Tensor:
        """The batch for idx: the prefetched one when it matches, else read now (and the thread restarted
        behind it, for a new batch size or after a restore)."""
        p = self._prefetcher
        if p is not None and p.n == n:
            p_idx, raw = p.get()
            if torch.equal(p_idx, idx):
                return raw
        self.close()
        self._prefetcher = _Prefetcher(self.source, self.pin, self.order.copy(), n, self.depth)
        return read_rows(self.source, idx, self.pin)

    def next_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        idx = self.order.next_indices(n)
        raw = self._raw(idx, n).to(self.device, non_blocking=True)
        labels = None if self.device_labels is None else self.device_labels[idx.to(self.device)]
        return to_unit(raw, self.memory_format), labels

    def next(self, n: int) -> Tensor:
        return self.next_batch(n)[0]

    def sample_eval(self, n: int, gen: torch.Generator) -> Tensor:
        return self.sample_eval_labelled(n, gen)[0]

    def sample_eval_labelled(self, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor | None]:
        idx = torch.randint(len(self), (n,), generator=gen)
        images = torch.from_numpy(np.take(self.source.array, idx.numpy(), axis=0)).to(self.device)
        return to_unit(images, torch.contiguous_format), None if self.labels is None else self.labels[idx]

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.close()
        self.order.load_state_dict(state)

    def close(self) -> None:
        """Stop the prefetching thread (a new one starts with the next batch)."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None

    def __del__(self) -> None:
        self.close()
