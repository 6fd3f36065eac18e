"""FID/KID features: the Inception-v3 network with the 2015-12-05 TensorFlow weights (as pytorch-fid and
torch-fidelity use), only when the weights are on disk. Nothing here downloads anything.

The weights file is `pt_inception-2015-12-05-6726825d.pth` (pytorch-fid's release); it is looked for at
the path given (`inception=PATH` / `train.inception=PATH`), else in the torch hub cache
(`$TORCH_HOME/hub/checkpoints/`, where pytorch-fid leaves it after its own download).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.errors import UserError

FID_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"


def find_weights(path: str | None) -> Path | None:
    """The weights file: `path` if given (it must exist), else the hub cache's copy, else None."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise UserError(
                f"inception={path}: no such file. Give the path of {FID_WEIGHTS} (pytorch-fid's Inception "
                "weights), or leave it empty to compute the offline metrics only."
            )
        return p
    hub = Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS
    return hub if hub.is_file() else None


def fid_inception_v3() -> nn.Module:
    """The FID variant of Inception-v3 (torchvision's, with pytorch-fid's patched blocks), no weights."""
    from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
    from torchvision.models.inception import Inception3

    net = Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    return net


class InceptionFeatures(nn.Module):
    """Images [N, C, H, W] in [-1, 1] -> the 2048 pool3 features FID and KID are defined on."""

    def __init__(self, weights: Path) -> None:
        super().__init__()
        self.net = fid_inception_v3()
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state)
        except Exception as err:
            raise UserError(
                f"cannot load Inception weights from {weights}: {err}. The file must be {FID_WEIGHTS}."
            ) from None
        self.net.fc = nn.Identity()
        self.weights = weights
        self.eval()

    @torch.no_grad()
    def forward(self, x: Tensor, batch: int = 100) -> Tensor:
        device = next(self.parameters()).device
        out = []
        for chunk in x.split(batch):
            chunk = chunk.to(device).float()
            if chunk.shape[1] == 1:
                chunk = chunk.expand(-1, 3, -1, -1)
            # pytorch-fid: bilinear resize to 299, inputs scaled to [-1, 1]
            chunk = F.interpolate(chunk, size=(299, 299), mode="bilinear", align_corners=False)
            out.append(self.net(chunk).double().cpu())
        return torch.cat(out)
