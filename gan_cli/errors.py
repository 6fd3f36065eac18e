"""Errors a user can cause, and how the commands report them."""

from __future__ import annotations

import sys
import textwrap


class UserError(Exception):
    """A problem the user can fix (bad value, missing file): reported as one paragraph, no traceback."""


class ConfigError(UserError):
    """A config value that cannot be used; the message names the key."""


def report(prog: str, err: UserError) -> None:
    """Print `err` to stderr as one readable paragraph prefixed by the command name."""
    text = " ".join(str(err).split())
    sys.stderr.write(textwrap.fill(f"{prog}: error: {text}", width=100) + "\n")
