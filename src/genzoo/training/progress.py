"""Progress reporting: a live bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_metrics"]


def format_metrics(metrics: dict[str, float], keys: int = 4) -> str:
    """``loss 101.3 recon 80.1 ...`` for the first ``keys`` numeric entries."""
    ordered = sorted(metrics.items(), key=lambda kv: kv[0] != "loss")  # loss first
    parts = [f"{k} {v:.4g}" for k, v in ordered if isinstance(v, float | int)][:keys]
    return " ".join(parts)


class Progress:
    """One epoch's progress: a tqdm bar with live loss and examples/s when ``bar`` is true."""

    def __init__(self, total: int, desc: str, bar: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.examples = 0
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
        if self._bar is not None:
            self._bar.update(1)
            if loss is not None and self._bar.n % 10 == 0:
                rate = self.examples / max(time.perf_counter() - self.start, 1e-9)
                self._bar.set_postfix(loss=f"{loss:.4g}", ex_s=f"{rate:.0f}", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
