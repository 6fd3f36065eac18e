"""What every network shares: the registry of architectures, D's output, and the prior p_z.

D has one calling convention, whatever wraps it: `D(x, y)` with x [N, ...] and y the class labels [N]
(None for an unconditional D) returns a `DOut`: `logits` [N] (one per packed group when D packs samples)
and `codes` (an InfoGAN head's [N, K], else None).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gan_cli.registry import Registry

MODELS = Registry("model")  # builder(cfg.model, shape, pac) -> (G, D) for one sample's shape
DRAW = 1024  # generate(): latents drawn this many at a time
OUTPUT_BUDGET = 2**22  # generate(): at most this many output values a chunk (16 MB)


class DOut(NamedTuple):
    logits: Tensor  # [N] (or [N / pac])
    codes: Tensor | None = None  # InfoGAN's estimates of z's code [N, K]


class SpectralNorm(nn.Module):
    """A parametrization W -> W / sigma(W), sigma the largest singular value of W as a matrix [out, -1],
    estimated by power iteration as SNGAN's code does it (Miyato et al. 2018, Algorithm 1; Chainer's
    sngan_projection and torch.nn.utils.spectral_norm): each training forward sets v = W^T u / |W^T u|, then
    u = W v / |W v|, and sigma = u^T W v. (torch.nn.utils.parametrizations.spectral_norm updates u before v,
    which gives other numbers after each step.) u and v are buffers with the names torch's parametrization
    uses (`parametrizations.weight.0._u`, `_v`), updated in place, so checkpoints carry them and CUDA graphs
    can capture the update."""

    def __init__(self, weight: Tensor, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps
        mat = self._matrix(weight.detach())
        self.register_buffer("_u", F.normalize(mat.new_empty(mat.shape[0]).normal_(), dim=0, eps=eps))
        self.register_buffer("_v", F.normalize(mat.new_empty(mat.shape[1]).normal_(), dim=0, eps=eps))
        self._power_method(mat, 15)  # start near the top singular vectors, as torch's parametrization does

    def _matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:  # a transposed convolution's output channels are its second axis
            weight = weight.movedim(self.dim, 0)
        return weight.flatten(1)

    @torch.no_grad()
    def _power_method(self, mat: Tensor, iterations: int) -> None:
        for _ in range(iterations):
            self._v = F.normalize(torch.mv(mat.T, self._u), dim=0, eps=self.eps, out=self._v)
            self._u = F.normalize(torch.mv(mat, self._v), dim=0, eps=self.eps, out=self._u)

    def forward(self, weight: Tensor) -> Tensor:
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat.detach(), 1)
        u = self._u.clone(memory_format=torch.contiguous_format)  # autograd must not see the in-place update
        v = self._v.clone(memory_format=torch.contiguous_format)
        sigma = torch.vdot(u, torch.mv(mat, v))
        return weight / sigma


def spectral_norm(module: nn.Module) -> nn.Module:
    """`module.weight` spectrally normalised (SpectralNorm), in place."""
    dim = 1 if isinstance(module, nn.ConvTranspose2d) else 0
    parametrize.register_parametrization(module, "weight", SpectralNorm(module.weight, dim))
    return module


def spectral_normalize(D: nn.Module) -> nn.Module:
    """model.d_norm=spectral (Miyato et al. 2018): every convolution and linear layer of D divided by its
    largest singular value, estimated by one power iteration per training forward (SpectralNorm). The
    iteration's vectors are buffers, saved in checkpoints, so a resumed run continues exactly."""
    for module in list(D.modules()):
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            spectral_norm(module)
    return D


def latent(n: int, nz: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """The prior p_z: standard normal [n, nz]."""
    return torch.randn(n, nz, device=device, generator=generator)


@torch.no_grad()
def generate(
    G: torch.nn.Module,
    nz: int,
    num: int,
    seed: int,
    device: torch.device,
    batch: int = 1024,
    label: int | None = None,
) -> Tensor:
    """num samples from G in eval mode, from a seeded generator of their own (the global RNG is untouched).
    label=k: every sample of class k of a model.latent_classes G (a CategoricalLatent; the dataset's label k
    when the run is conditional)."""
    was_training = G.training
    G.eval()
    gen = torch.Generator().manual_seed(seed)
    # z is drawn in chunks of DRAW whatever `batch` is (torch's normal draws depend on the tensor's size),
    # so a seed gives the same samples at any batch
    z = torch.cat([latent(min(DRAW, num - i), nz, torch.device("cpu"), gen) for i in range(0, num, DRAW)])
    if label is not None:  # z's first coordinate in the middle of that class's share
        z[:, 0] = G.z0_of(label)
    # large images in smaller chunks (a 64-px StyleGAN2 holds 1 GB of activations per 100 samples)
    if num:
        batch = max(1, min(batch, OUTPUT_BUDGET // G(z[:1].to(device))[0].numel()))
    chunks = [G(z[i : i + batch].to(device)).float().cpu() for i in range(0, num, batch)]
    G.train(was_training)
    return torch.cat(chunks)
