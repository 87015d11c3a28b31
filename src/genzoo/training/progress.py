"""Progress reporting: a live bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_metrics", "format_rate"]


def format_metrics(metrics: dict[str, float], keys: int = 4) -> str:
    """``loss 101.3 recon 80.1 ...`` for the first ``keys`` numeric entries."""
    ordered = sorted(metrics.items(), key=lambda kv: kv[0] != "loss")  # loss first
    parts = [f"{k} {v:.4g}" for k, v in ordered if isinstance(v, float | int)][:keys]
    return " ".join(parts)


def format_rate(per_s: float) -> str:
    """A rate with two significant digits below 10 (``0.93``, ``4.2``; an NLL with k=5000
    scores about one image a second, which ``.0f`` showed as 0), whole numbers above."""
    return f"{per_s:.0f}" if per_s >= 10 else f"{per_s:.2g}"


class Progress:
    """One epoch's progress: a tqdm bar with live loss and examples/s when ``bar`` is true;
    otherwise (a log file, ``--quiet``), with ``every_s``, a plain line every ``every_s``
    seconds while it lasts, so that a long evaluation is not silent."""

    def __init__(
        self,
        total: int,
        desc: str,
        bar: bool,
        stream: TextIO | None = None,
        every_s: float | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.examples = 0
        self.total, self.desc, self.every_s = total, desc, every_s
        self._done = 0
        self._last_line = self.start
        self._bar = None
        if bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc,
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                unit="batch",
            )

    def update(self, examples: int, loss: float | None = None) -> None:
        self.examples += examples
        self._done += 1
        if self._bar is None:
            if self.every_s is not None:
                self._maybe_line()
        else:
            self._bar.update(1)
            if loss is not None and self._bar.n % 10 == 0:
                rate = self.examples / max(time.perf_counter() - self.start, 1e-9)
                self._bar.set_postfix(loss=f"{loss:.4g}", ex_s=format_rate(rate), refresh=False)

    def _maybe_line(self) -> None:
        now = time.perf_counter()
        if now - self._last_line < (self.every_s or 0.0):
            return
        self._last_line = now
        elapsed = now - self.start
        left = elapsed / self._done * max(self.total - self._done, 0)
        rate = format_rate(self.examples / elapsed)
        self.line(
            f"{self.desc}: {self._done}/{self.total} batches, {rate} ex/s, "
            f"about {left / 60:.1f} min left"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
