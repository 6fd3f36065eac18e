"""InfoGAN (Chen et al. 2016), model.info_weight > 0: a Q head on D's features learns to read the class z
picked (and z's first model.info_continuous continuous coordinates) from G(z); D's loss and G's both add
info_weight times Q's error, a lower bound on the mutual information between code and image, which pushes
each class to one distinct kind of image instead of in-between ones."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.nets import InfoHead, category
from gan_cli.tricks.base import TRICKS, Batch, Term, Trick


def info_loss(codes: Tensor, z: Tensor, classes: int, continuous: int = 0) -> Tensor:
    """Cross-entropy of the class z picked, plus half the squared error of its continuous codes (a
    unit-variance Gaussian's negative log-likelihood, up to a constant)."""
    loss = F.cross_entropy(codes[:, :classes].float(), category(z[:, 0], classes))
    if continuous:
        c = z[:, 1 : 1 + continuous].float()
        loss = loss + 0.5 * (codes[:, classes:].float() - c).square().sum(1).mean()
    return loss


class InfoGAN(Trick):
    name = "infogan"

    def __init__(self, weight: float, classes: int, continuous: int, pac: int) -> None:
        self.weight, self.classes, self.continuous, self.pac = weight, classes, continuous, pac

    def wrap(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        return G, InfoHead(D, self.classes, self.pac, self.continuous)

    def _term(self, b: Batch) -> Term:
        value = info_loss(b.fake_out.codes, b.z, self.classes, self.continuous)
        return Term(self.weight * value, value)

    def d_terms(self, b: Batch, run) -> dict[str, Term]:  # Q learns to read the code...
        return {"loss/info": self._term(b)}

    def g_terms(self, b: Batch, run) -> dict[str, Term]:  # ...and G to make it readable
        return {"loss/info_G": self._term(b)}


@TRICKS.register("infogan")
def build(cfg, loss) -> Trick | None:
    m = cfg.model
    weight = float(m.get("info_weight", 0.0))
    if weight <= 0:
        return None
    return InfoGAN(weight, int(m.latent_classes), int(m.get("info_continuous", 0)), int(m.get("pac", 1)))
