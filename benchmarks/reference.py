"""The plain-PyTorch reference gan-cli is measured against: the classic PyTorch DCGAN example's loop.

Same networks (copied verbatim at 64x64), BCE on a sigmoid output, Adam lr 2e-4 beta1 0.5, one D and one G
update per step, and, like the example, the losses and D(x), D(G(z)) read back (`.item()`) every step.
Batches come from a tensor already in memory (the example's DataLoader would only slow it down).

    python -m benchmarks.reference --steps 80     # the whole-process figure of the goal command
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn


# The classic PyTorch DCGAN example (pytorch/examples dcgan/main.py), copied verbatim for comparison.
class ClassicGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class ClassicDiscriminator(nn.Module):
    def __init__(self, ndf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class SigmoidD(nn.Module):
    """Any gan-cli D (logits) with the example's sigmoid on top, for BCELoss."""

    def __init__(self, D: nn.Module) -> None:
        super().__init__()
        self.D = D

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.D(x).logits)


def reference_steps(
    G: nn.Module,
    D: nn.Module,
    next_batch: Callable[[], torch.Tensor],
    nz: int,
    steps: int,
    z_shape: tuple[int, ...] = (),
) -> float:
    """Run the example's training loop for `steps` iterations; returns the seconds it took."""
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0
    t0 = time.perf_counter()
    for _ in range(steps):
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        D.zero_grad()
        real_cpu = next_batch()
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=real_cpu.device)
        output = D(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = torch.randn(batch_size, nz, *z_shape, device=real_cpu.device)
        fake = G(noise)
        label.fill_(fake_label)
        output = D(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        G.zero_grad()
        label.fill_(real_label)
        output = D(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()
        _ = (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)  # the example prints these every step
    return time.perf_counter() - t0


def classic_pair(device: torch.device) -> tuple[nn.Module, nn.Module]:
    """The example's G and D, initialised as it does, on `device`."""
    G, D = ClassicGenerator(), ClassicDiscriminator()
    G.apply(weights_init)
    D.apply(weights_init)
    return G.to(device), D.to(device)


def on_device_steps(batch: int, steps: int, device: torch.device) -> float:
    """The example's loop on `device` with its batches already there (64x64 noise images): seconds."""
    G, D = classic_pair(device)
    data = torch.rand(16 * batch, 3, 64, 64, device=device) * 2 - 1
    pos = [0]

    def next_batch() -> torch.Tensor:
        i = pos[0] % 16
        pos[0] += 1
        return data[i * batch : (i + 1) * batch]

    return reference_steps(G, D, next_batch, 100, steps, (1, 1))


def loader_steps(batch: int, steps: int, device: torch.device, workers: int = 8) -> float:
    """The example as it runs: torchvision's FakeData through its transforms and a DataLoader with
    `workers` processes, each batch copied to `device`: seconds."""
    import torchvision.datasets as dset
    import torchvision.transforms as transforms

    dataset = dset.FakeData(
        size=max(steps + 2, 4) * batch,
        image_size=(3, 64, 64),
        transform=transforms.Compose(
            [
                transforms.Resize(64),
                transforms.CenterCrop(64),
                transforms.ToTensor(),
                transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            ]
        ),
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers)
    batches = iter(loader)
    G, D = classic_pair(device)
    return reference_steps(G, D, lambda: next(batches)[0].to(device), 100, steps, (1, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    t_start = time.perf_counter()
    torch.manual_seed(0)
    G, D = classic_pair(torch.device("cpu"))
    data = torch.rand(1024, 3, 64, 64) * 2 - 1
    pos = [0]

    def next_batch() -> torch.Tensor:
        i = pos[0] % (1024 // args.batch)
        pos[0] += 1
        return data[i * args.batch : (i + 1) * args.batch]

    reference_steps(G, D, next_batch, 100, args.steps, (1, 1))
    print(f"reference: {args.steps} steps of batch {args.batch} in {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
