"""Batch samplers that live on the training device and can save and restore their exact position, and
the registry of dataset builders (each config in conf/dataset/ names one)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gan_cli.registry import Registry

DATASETS = Registry("dataset")  # builder(cfg.dataset, seed, device) -> Sampler


class Sampler:
    """Draws training batches. `kind` is "image" ([N, C, H, W] in [-1, 1]) or "points" ([N, 2])."""

    kind: str
    shape: tuple[int, ...]  # one sample's shape

    def next(self, n: int) -> Tensor:
        raise NotImplementedError

    def next_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        """The next training batch and its class labels [n] (None when the data has none)."""
        return self.next(n), None

    def sample_eval(self, n: int, gen: torch.Generator) -> Tensor:
        """n samples for evaluation, from `gen`: the training order and RNG are left untouched."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError


class Order:
    """Which rows come next: reshuffled epochs of N rows from a seed, saved and restored exactly.

    The permutation is drawn on the CPU (the same order on every device) and kept on `device`.
    """

    def __init__(self, n: int, seed: int, device: torch.device) -> None:
        self.n, self.device = n, device
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = self._new_perm()
        self.pos = 0

    def _new_perm(self) -> Tensor:
        return torch.randperm(self.n, generator=self.gen).to(self.device)

    def next_indices(self, k: int) -> Tensor:
        parts = []
        while k > 0:
            if self.pos >= self.n:
                self.perm, self.pos = self._new_perm(), 0
            take = min(k, self.n - self.pos)
            parts.append(self.perm[self.pos : self.pos + take])
            self.pos += take
            k -= take
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def copy(self) -> Order:
        """An independent order at the same position (the permutation is shared: it is never changed in
        place, only replaced)."""
        other = Order.__new__(Order)
        other.n, other.device, other.perm, other.pos = self.n, self.device, self.perm, self.pos
        other.gen = torch.Generator()
        other.gen.set_state(self.gen.get_state())
        return other

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.cpu(), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.perm = state["perm"].to(self.device)
        self.pos = int(state["pos"])


def to_unit(images: Tensor, memory_format: torch.memory_format) -> Tensor:
    """uint8 [N, C, H, W] -> float in [-1, 1], in `memory_format`."""
    return images.float().div_(127.5).sub_(1.0).contiguous(memory_format=memory_format)


class TensorSampler(Sampler):
    """A whole dataset held as one uint8 tensor on the device, read in reshuffled epochs.

    No DataLoader and no per-step host work: a batch is one `index_select` and a scale to [-1, 1].
    """

    kind = "image"

    def __init__(self, images: Tensor, seed: int, device: torch.device, labels: Tensor | None = None) -> None:
        assert images.dtype == torch.uint8 and images.dim() == 4, "images: uint8 [N, C, H, W]"
        self.images = images.to(device)  # [N, C, H, W]
        # class labels [N] (CPU, int64) when the dataset has them: evaluation, and a conditional GAN's D
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.int64)
        self.device_labels = None if labels is None else self.labels.to(device)
        self.shape = tuple(images.shape[1:])
        self.device = device
        self.order = Order(len(self), seed, device)
        self.memory_format = torch.contiguous_format  # torch.channels_last for NHWC models

    def __len__(self) -> int:
        return self.images.shape[0]

    def next_indices(self, n: int) -> Tensor:
        return self.order.next_indices(n)

    def next(self, n: int) -> Tensor:
        return to_unit(self.images.index_select(0, self.next_indices(n)), self.memory_format)

    def next_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        """The next batch and its labels [n] (the same images, position and order as next())."""
        if self.device_labels is None:
            return self.next(n), None
        idx = self.next_indices(n)
        return to_unit(self.images.index_select(0, idx), self.memory_format), self.device_labels[idx]

    def sample_eval(self, n: int, gen: torch.Generator) -> Tensor:
        return self.sample_eval_labelled(n, gen)[0]

    def sample_eval_labelled(self, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor | None]:
        idx = torch.randint(len(self), (n,), generator=gen)
        images = self.images.index_select(0, idx.to(self.images.device))
        return to_unit(images, torch.contiguous_format), None if self.labels is None else self.labels[idx]

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)


class MixtureSampler(Sampler):
    """Fresh draws from an equal-weight mixture of isotropic 2-D Gaussians (the true density is known)."""

    kind = "points"
    shape = (2,)

    def __init__(self, centers: Tensor, std: float, seed: int, device: torch.device) -> None:
        self.centers = centers.float()  # [M, 2]
        self.std = float(std)
        self.device = device
        self.gen = torch.Generator().manual_seed(seed)

    def sample_cpu(self, n: int, gen: torch.Generator | None = None) -> Tensor:
        gen = gen or self.gen
        idx = torch.randint(len(self.centers), (n,), generator=gen)
        return self.centers[idx] + self.std * torch.randn(n, 2, generator=gen)  # [n, 2]

    def next(self, n: int) -> Tensor:
        return self.sample_cpu(n).to(self.device, non_blocking=True)

    def sample_eval(self, n: int, gen: torch.Generator) -> Tensor:
        return self.sample_cpu(n, gen)

    def log_density(self, x: Tensor) -> Tensor:
        """log p_data(x) for points x [N, 2]."""
        d2 = torch.cdist(x.float(), self.centers.to(x.device)).pow(2)  # [N, M]
        log_norm = -math.log(2 * math.pi * self.std**2) - math.log(len(self.centers))
        return torch.logsumexp(-d2 / (2 * self.std**2), dim=1) + log_norm

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
