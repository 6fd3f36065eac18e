"""FID/KID/IS features: the Inception-v3 network with the 2015-12-05 TensorFlow weights, as pytorch-fid and
torch-fidelity use them.

The weights file is `pt_inception-2015-12-05-6726825d.pth` (pytorch-fid's release). It is looked for at the
path given (`inception=PATH` / `train.inception=PATH`), else in the torch hub cache
(`$TORCH_HOME/hub/checkpoints/`). When it is in neither, the first evaluation that needs it downloads it
there with torch.hub's own downloader (a progress bar; the file's SHA-256 must start with the 8 hex digits
in its name, else it is refused and nothing is left behind). `inception=none` never computes these metrics
and never downloads; offline, the download fails and the metrics are left out with the reason. Only
evaluation (gan-eval, train.eval_every on images) ever asks for the file.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.error
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.errors import UserError

FID_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS}"
SIZE = "about 96 MB"  # 23.9 million float32 weights
TIMEOUT_S = 30.0  # a network that drops packets instead of refusing them fails in this time, not never


def weights_url() -> str:
    """Where the weights come from: pytorch-fid's release, or a mirror named by $GAN_CLI_INCEPTION_URL
    (its file name must keep the hash part, `-<8 hex digits>.pth`, which the download is checked against)."""
    return os.environ.get("GAN_CLI_INCEPTION_URL") or FID_WEIGHTS_URL


def hub_path(url: str | None = None) -> Path:
    """Where a download goes, and where the weights are looked for: the torch hub cache."""
    name = (url or weights_url()).rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def find_weights(path: str | None) -> Path | None:
    """The weights file on disk: `path` if given (it must exist), else the hub cache's copy, else None."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise UserError(
                f"inception={path}: no such file. Give the path of {FID_WEIGHTS} (pytorch-fid's Inception "
                f"weights, {SIZE}, from {weights_url()}), or leave it empty to use the torch hub cache "
                f"({hub_path().parent}), where the first evaluation downloads it, or inception=none."
            )
        return p
    hub = hub_path()
    return hub if hub.is_file() else None


def get_weights(path: str | None) -> tuple[Path | None, str]:
    """(the weights file, "") when it is on disk or could be downloaded into the hub cache; (None, why)
    when `path` is "none" or the download failed for want of a network. A download whose bytes do not
    match the hash in the file's name is an error, and leaves no file behind."""
    if path is not None and path.lower() == "none":
        return None, "inception=none"
    found = find_weights(path)
    if found is not None:
        return found, ""
    url, dst = weights_url(), hub_path()
    match = re.search(r"-([a-f0-9]{8,})\.", dst.name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    where = (
        f"Download {dst.name} ({SIZE}) from {url} by hand and put it at {dst}, or give inception=PATH "
        "(inception=none: leave FID, KID and IS out)."
    )
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(url, str(dst), match.group(1) if match else None, progress=True)
    except (urllib.error.URLError, OSError, ValueError) as err:  # offline, refused, unknown host, timeout
        dst.unlink(missing_ok=True)
        return None, f"the download from {url} failed ({type(err).__name__}: {err}). {where}"
    except RuntimeError as err:  # torch.hub: "invalid hash value"; its partial file is already removed
        dst.unlink(missing_ok=True)
        raise UserError(
            f"the Inception weights downloaded from {url} are not the expected file ({err}); nothing was "
            f"kept. {where}"
        ) from None
    finally:
        socket.setdefaulttimeout(before)
    return dst, ""


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
    """Images [N, C, H, W] in [-1, 1] -> (the 2048 pool3 features FID and KID are defined on, the 1008
    logits without the bias that torch-fidelity's Inception Score reads)."""

    def __init__(self, weights: Path) -> None:
        super().__init__()
        self.net = fid_inception_v3()
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state)
        except Exception as err:
            raise UserError(
                f"cannot load Inception weights from {weights}: {err}. The file must be {FID_WEIGHTS} "
                f"({SIZE}, from {FID_WEIGHTS_URL})."
            ) from None
        self.logit_weight = nn.Parameter(self.net.fc.weight.detach().clone(), requires_grad=False)
        self.net.fc = nn.Identity()
        self.weights = weights
        self.eval()

    @torch.no_grad()
    def forward(self, x: Tensor, batch: int = 100) -> tuple[Tensor, Tensor]:
        device = next(self.parameters()).device
        features = []
        for chunk in x.split(batch):
            chunk = chunk.to(device).float()
            if chunk.shape[1] == 1:
                chunk = chunk.expand(-1, 3, -1, -1)
            # pytorch-fid: bilinear resize to 299, inputs scaled to [-1, 1]
            chunk = F.interpolate(chunk, size=(299, 299), mode="bilinear", align_corners=False)
            features.append(self.net(chunk).double().cpu())
        pool = torch.cat(features)  # [N, 2048]
        return pool, pool @ self.logit_weight.double().cpu().T  # [N, 1008]
