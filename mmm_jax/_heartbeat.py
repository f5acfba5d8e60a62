"""A line of life every ~30 s on a log: long fits are not silent when stderr is not a terminal.

At a terminal the progress bars show a fit moving; in a log or a pipeline
they are off (`mmm_jax.cli`: they keep JAX from caching the compiled sampler),
and a 19-minute NUTS fit printed nothing. `Heartbeat` runs a daemon thread
that writes ``fit: nuts, 4 chains x (1000 warmup + 1000 draws), 30 s`` to the
stream every ``every`` seconds until the block ends. It reads no sampler state
(a host callback inside the sampling loop would cost the compilation cache,
and splitting the run into chunks would change its draws), so it says how
long, not how far; it costs one wake-up per interval.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Heartbeat"]


class Heartbeat:
    """Writes ``"{label}, {seconds} s"`` to ``stream`` every ``every`` seconds while entered.

    Silent when ``stream`` is a terminal (progress bars are there) or when
    ``enabled`` is false. `phase` changes the label mid-way (``hold-out refit``).

    Args:
      label: What is running, e.g. ``"fit: nuts, 4 chains x (500 warmup + 500 draws)"``.
      stream: Where to write (default ``sys.stderr``, looked up on entry).
      every: Seconds between lines, > 0.
      enabled: ``False`` writes nothing (``--quiet``).
      clock: Seconds since an arbitrary origin (for tests).
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        every: float = 30.0,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not every > 0:
            raise ValueError(f"every must be positive, got {every}")
        self.label = label
        self.every = float(every)
        self.enabled = enabled
        self._stream = stream
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = 0.0

    def phase(self, label: str) -> None:
        """Names what runs from now on in the following lines."""
        self.label = label

    def _beat(self, stream: TextIO) -> None:
        while not self._stop.wait(self.every):
            try:
                print(f"{self.label}, {self._clock() - self._start:.0f} s", file=stream, flush=True)
            except (OSError, ValueError):  # a closed log: stop beating, never fail the fit
                return

    def __enter__(self) -> Heartbeat:
        stream = sys.stderr if self._stream is None else self._stream
        isatty = getattr(stream, "isatty", None)
        if self.enabled and not (callable(isatty) and isatty()):
            self._start = self._clock()
            self._thread = threading.Thread(
                target=self._beat, args=(stream,), name="mmm-jax-heartbeat", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether lines are being written."""
        return self._thread is not None
