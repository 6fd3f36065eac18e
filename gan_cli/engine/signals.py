"""Graceful stops: SIGINT / SIGTERM ask the training loop to finish its step, checkpoint and exit."""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger("gan_cli.train")


class StopRequest:
    """Within `with StopRequest() as stop:`, `stop.signum` is set by the first SIGINT or SIGTERM.

    A second signal restores the default behaviour, so pressing Ctrl-C twice stops at once.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, signals: tuple[int, ...] = SIGNALS) -> None:
        self.signals = tuple(signals)
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        self.signum = signum
        log.warning(
            "%s received: finishing this step, writing a checkpoint, then stopping "
            "(send it again to stop at once).",
            signal.Signals(signum).name,
        )
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()
