"""Progress for long commands: a tqdm bar when stderr is a terminal, else one summary line when the work ends.

A log file or a CI transcript gets `analyze: 12 trials in 3.4 s` instead of hundreds of carriage-return frames.
A transient bar (leave=False: the caller prints its own result) leaves no line, and work that ends in an exception
prints no summary (the error is the last word). Every layer reports progress through `progress()`.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, Self, TextIO, TypeVar

T = TypeVar("T")


class Progress:
    """Counts work units; draws a tqdm bar on a terminal, otherwise prints `desc: N units in S s` once on close()
    (unless the bar is transient, leave=False)."""

    def __init__(self, desc: str, unit: str, total: int | None = None, *, initial: int = 0, leave: bool = True,
                 enabled: bool = True, stream: TextIO | None = None) -> None:
        self.desc, self.unit, self.total, self.n = desc, unit, total, initial
        self.enabled = enabled
        self.leave = leave
        self._initial = initial
        self._stream = stream if stream is not None else sys.stderr
        self._t0 = time.perf_counter()
        self._closed = False
        self._bar: Any = None
        if enabled and _is_terminal(self._stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave, file=self._stream)

    @property
    def interactive(self) -> bool:
        """True when a live bar is drawn (stderr is a terminal and progress is enabled)."""
        return self._bar is not None

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)

    def set(self, done: int, total: int | None = None) -> None:
        """Jump to `done` of `total` units (for callbacks that report absolute counts)."""
        if total is not None:
            self.total = total
        self.n = done
        if self._bar is not None:
            if total is not None:
                self._bar.total = total
            self._bar.n = done
            self._bar.refresh()

    def set_postfix(self, **values: Any) -> None:
        """Extra fields shown after the bar (e.g. loss); the summary line has no room for them."""
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def wrap(self, items: Iterable[T]) -> Iterator[T]:
        """Yield from `items`, counting one unit per item."""
        for item in items:
            yield item
            self.update(1)

    def summary(self) -> str:
        """The line printed at the end when no bar was drawn, e.g. `analyze: 12 trials in 3.4 s`."""
        done = self.n - self._initial
        units = self.unit if done == 1 else self.unit + "s"
        return f"{self.desc}: {done} {units} in {time.perf_counter() - self._t0:.1f} s"

    def close(self, failed: bool = False) -> None:
        """End the bar, or print the summary line (not for a transient bar, nor when the work `failed`)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self.leave and not failed:
            print(self.summary(), file=self._stream, flush=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(failed=exc_type is not None)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress(desc: str, unit: str, total: int | None = None, **kwargs: Any) -> Progress:
    """A Progress on stderr (see Progress): a bar on a terminal, else one summary line at the end."""
    return Progress(desc, unit, total, **kwargs)


__all__ = ["Progress", "progress"]
