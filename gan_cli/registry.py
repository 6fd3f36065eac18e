"""Name registries: the only way components are built (configs cannot name arbitrary code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gan_cli.errors import ConfigError


class Registry:
    """Maps config names (the option's file name, e.g. `loss/lsgan.yaml`) to builder callables."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builders: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._builders:
                raise ValueError(
                    f"{self.kind} '{name}' is registered twice ({self._builders[name]} and {fn})"
                )
            self._builders[name] = fn
            return fn

        return decorator

    def names(self) -> list[str]:
        return sorted(self._builders)

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._builders:
            raise ConfigError(
                f"unknown {self.kind} '{name}' ({self.kind}.name). Known: {', '.join(self.names())}. "
                f"Pick one on the command line, e.g. {self.kind}={self.names()[0]}."
            )
        return self._builders[name]

    def build(self, cfg: Any, *args: Any, **kwargs: Any) -> Any:
        """Build the component named by `cfg.name`, passing the whole group config along."""
        return self.get(cfg.name)(cfg, *args, **kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self._builders
