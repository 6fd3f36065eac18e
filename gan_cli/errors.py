"""Errors a user can cause, and how the commands report them."""

from __future__ import annotations

import sys
import textwrap
from typing import Any


class UserError(Exception):
    """A problem the user can fix (bad value, missing file): reported as one paragraph, no traceback."""


class ConfigError(UserError):
    """A config value that cannot be used; the message names the key."""


def report(prog: str, err: UserError) -> None:
    """Print `err` to stderr as one readable paragraph prefixed by the command name."""
    text = " ".join(str(err).split())
    sys.stderr.write(textwrap.fill(f"{prog}: error: {text}", width=100) + "\n")


def parse_key_values(argv: list[str], schema: type, usage: str) -> Any:
    """`key=value` arguments checked against a dataclass schema; every mistake is a UserError with `usage`."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    bad = [a for a in argv if "=" not in a]
    if bad:
        raise UserError(f"cannot read argument {bad[0]!r}: arguments are key=value. {usage}")
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.from_dotlist(argv))
        missing = [key for key in cfg if OmegaConf.is_missing(cfg, key)]
        if missing:
            raise UserError(f"missing {missing[0]}=... . {usage}")
        return OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        where = f"{key}: " if key else ""
        raise UserError(f"{where}{str(err).splitlines()[0]}. {usage}") from None
