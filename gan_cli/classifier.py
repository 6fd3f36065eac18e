"""A small classifier trained on a labelled image dataset: the offline feature space for image metrics.

Without Inception weights (no internet), Frechet distance, k-NN precision/recall and an Inception-like
score are computed in the features of this network instead. It is trained once per dataset (and size,
channels and labels: the key is a hash of the exact images) on one half of the data, checked on the other
("reference") half, and cached; the reference half is also the real side of every comparison, so real and
generated images are both new to the classifier.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli import checkpoint
from gan_cli.errors import UserError
from gan_cli.files import cache_dir

log = logging.getLogger("gan_cli.classifier")
VERSION = 1  # bump when the network or its training changes: old cache entries are then ignored
MAX_REFERENCE = 10_000  # real images kept aside as the reference (and the classifier's test set)
MAX_TRAIN = 50_000
TRAIN_STEPS, BATCH = 1000, 128


class SmallCNN(nn.Module):
    """Three conv blocks and a global average: features [N, 64] from images [N, C, H, W] in [-1, 1]."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        self.body = nn.Sequential(
            *block(channels, 16, 1),
            *block(16, 32, 2),
            *block(32, 64, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(64, num_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


@dataclass
class Classifier:
    net: SmallCNN
    num_classes: int
    reference: Tensor  # uint8 [R, C, H, W]: held-out real images
    test_accuracy: float
    train_size: int
    path: Path

    @torch.no_grad()
    def outputs(self, images: Tensor, batch: int = 500) -> tuple[Tensor, Tensor]:
        """(features [N, 64], class probabilities [N, K]) of float images in [-1, 1] (or uint8)."""
        self.net.eval()
        feats, probs = [], []
        for chunk in images.split(batch):
            x = to_float(chunk)
            f = self.net.features(x)
            feats.append(f)
            probs.append(self.net.head(f).softmax(dim=1))
        return torch.cat(feats), torch.cat(probs)


def to_float(images: Tensor) -> Tensor:
    return images.float().div(127.5).sub(1.0) if images.dtype == torch.uint8 else images.float()


def split(n: int) -> tuple[Tensor, Tensor]:
    """A fixed (seed 0) split of n indices: (train, reference), half each up to the caps."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    n_ref = min(n // 2, MAX_REFERENCE)
    return perm[n_ref : n_ref + MAX_TRAIN], perm[:n_ref]


def _augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random shifts of up to 1/8 of the size (reflect padding): the classifier must not memorise pixels."""
    pad = max(1, x.shape[-1] // 8)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
    return padded[..., dy : dy + x.shape[-2], dx : dx + x.shape[-1]]


def train_classifier(images: Tensor, labels: Tensor, num_classes: int, seed: int = 0) -> SmallCNN:
    """Adam with a cosine schedule, TRAIN_STEPS batches of BATCH, shift augmentation; on the CPU it takes
    well under a minute for 16x16 digits and about two for 28x28 MNIST."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(), torch.enable_grad():  # callers may evaluate under no_grad mid-training
        torch.manual_seed(seed)
        return _fit(images, labels, num_classes, gen)


def _fit(images: Tensor, labels: Tensor, num_classes: int, gen: torch.Generator) -> SmallCNN:
    net = SmallCNN(images.shape[1], num_classes)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, TRAIN_STEPS)
    net.train()
    for _ in range(TRAIN_STEPS):
        idx = torch.randint(len(images), (min(BATCH, len(images)),), generator=gen)
        x = _augment(to_float(images[idx]), gen)
        loss = F.cross_entropy(net(x), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def _key(name: str, images: Tensor, labels: Tensor) -> str:
    h = hashlib.sha256(f"v{VERSION}|{name}|{tuple(images.shape)}".encode())
    h.update(images.contiguous().numpy().tobytes())
    h.update(labels.numpy().tobytes())
    return h.hexdigest()[:16]


def get_classifier(name: str, images: Tensor, labels: Tensor | None) -> Classifier:
    """The dataset's classifier, from the cache or trained now (and cached). images: uint8 [N, C, H, W]."""
    if labels is None:
        raise UserError(
            f"dataset '{name}' has no class labels, so the offline image metrics (classifier features) "
            "cannot be computed; use a labelled dataset (digits, mnist, fashion_mnist, cifar10, or a folder "
            "with one sub-folder per class), or give Inception weights for FID/KID (inception=PATH)."
        )
    images, labels = images.cpu(), labels.cpu()
    num_classes = int(labels.max()) + 1
    train_idx, ref_idx = split(len(images))
    if len(ref_idx) < 10:
        raise UserError(f"dataset '{name}' has {len(images)} images: too few for image metrics (need 20+).")
    path = cache_dir() / "classifiers" / f"{name}-{_key(name, images, labels)}.pt"
    net = SmallCNN(images.shape[1], num_classes)
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(state["net"])
            return Classifier(
                net.eval(), num_classes, images[ref_idx], state["test_accuracy"], state["train_size"], path
            )
        except Exception as err:  # a damaged cache entry is retrained, never fatal
            log.warning("ignoring the cached classifier %s (%s); training a new one", path, err)
    log.info("training the %s classifier for image metrics (once; cached in %s)", name, path.parent)
    net = train_classifier(images[train_idx], labels[train_idx], num_classes)
    with torch.no_grad():
        _, probs = Classifier(net, num_classes, images[ref_idx], 0.0, 0, path).outputs(images[ref_idx])
    accuracy = float((probs.argmax(dim=1) == labels[ref_idx]).double().mean())
    log.info("%s classifier: %.1f%% accuracy on %d held-out images", name, 100 * accuracy, len(ref_idx))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.save(
            {"net": net.state_dict(), "test_accuracy": accuracy, "train_size": len(train_idx)}, path
        )
    except OSError as err:
        log.warning(
            "could not cache the classifier in %s (%s); it will be trained again next time", path, err
        )
    return Classifier(net, num_classes, images[ref_idx], accuracy, len(train_idx), path)
