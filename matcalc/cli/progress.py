"""Progress on stderr with a k/N count: redrawn in place on a terminal, else at most one line per
interval (a second by default), so a log or CI job shows the run is alive without flooding it.

Example::

    >>> import io
    >>> stream = io.StringIO()
    >>> progress = Progress(2, label="report", stream=stream, clock=lambda: 0.0)
    >>> progress("linear_map cpu/float64"); progress("linear_map cpu/float32")
    >>> stream.getvalue()
    'report 1/2 linear_map cpu/float64 (0 s)\\n'

As a context manager it calls ``done()`` when the block ends normally (an error or Ctrl-C leaves the
line for the message that follows it).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Call it with a message before each step; ``done()`` clears an in-place line."""

    def __init__(self, total: int | None, *, label: str, stream: TextIO | None = None,
                 enabled: bool = True, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.label, self.enabled, self.clock = total, label, enabled, clock
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream)
        self.interval = interval if interval is not None else (0.1 if self.tty else 1.0)
        self.start = clock()
        self.last: float | None = None
        self.k = 0

    def __call__(self, message: str) -> None:
        self.k += 1
        if not self.enabled:
            return
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            return
        self.last = now
        count = f"{self.k}/{self.total}" if self.total else f"{self.k}"
        text = f"{self.label} {count} {message} ({now - self.start:.0f} s)"
        try:
            if self.tty:
                width = shutil.get_terminal_size().columns
                self.stream.write("\r\033[K" + text[: max(width - 1, 1)])
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # stderr closed: progress is not worth failing for
            self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.done()

    def done(self) -> None:
        if self.enabled and self.tty and self.last is not None:
            try:
                self.stream.write("\r\033[K")
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                pass


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
