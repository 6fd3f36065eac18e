"""Mixed precision: autocast for the forward passes, and gradient scaling when it is fp16."""

from __future__ import annotations

import contextlib

import torch

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """`with prec.autocast(): ...` then `prec.backward_step(loss, opt, "d")`; fp32 makes both plain."""

    def __init__(self, name: str, device: torch.device) -> None:
        self.name, self.dtype, self.device_type = name, DTYPES[name], device.type
        self.cache = True  # autocast's cache of casted weights (off for a step captured in a CUDA graph)
        # bf16 has fp32's exponent range: only fp16 needs its gradients scaled to avoid underflow.
        self.scalers = {net: torch.amp.GradScaler(device.type, enabled=name == "fp16") for net in ("d", "g")}

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype, cache_enabled=self.cache)

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer, net: str) -> bool:
        """Backward and optimizer step; False when fp16 gradients overflowed and the step was skipped.

        Skips are how dynamic loss scaling finds its scale (a few at the start are normal); the check
        reads the scale (a host sync), so it happens with fp16 only.
        """
        scaler = self.scalers[net]
        if not scaler.is_enabled():
            loss.backward()
            opt.step()
            return True
        before = scaler.get_scale()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()  # lowers the scale after an overflow, raises it after growth_interval clean steps
        return scaler.get_scale() >= before

    def state_dict(self) -> dict:
        return {net: scaler.state_dict() for net, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict) -> None:
        for net, scaler in self.scalers.items():
            if state.get(net):
                scaler.load_state_dict(state[net])
