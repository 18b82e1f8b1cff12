"""Fixed-rate tick scheduler: real time (sleeps to each tick, drops ticks it is late for) or virtual time (no sleep).

Dropping rather than queueing keeps the loop's latency bounded under load: after a slow frame the next tick is the
one due now, and the skipped ticks are counted in `dropped`.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass
class Tick:
    """One scheduled frame: its index on the fixed-rate grid and its session time t = index / fps."""

    index: int
    t: float


class Scheduler:
    """Yields Ticks at `fps` until `duration` seconds (None = until stop()); realtime or virtual time."""

    def __init__(
        self,
        fps: float = 30.0,
        duration: float | None = None,
        realtime: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps}")
        if duration is not None and not (duration > 0 and math.isfinite(duration)):
            raise ValueError(f"duration must be a positive number of seconds, got {duration}")
        self.fps = float(fps)
        self.duration = duration
        self.realtime = realtime
        self.clock = clock
        self.sleep = sleep
        self.dropped = 0
        self.emitted = 0
        self.t0: float | None = None  # clock() at tick 0
        self._stop = False

    @property
    def scheduled(self) -> int:
        """Ticks planned for the whole duration (None-duration: those due so far)."""
        if self.duration is not None:
            return math.floor(self.duration * self.fps + 1e-9)
        return self.emitted + self.dropped

    def stop(self) -> None:
        self._stop = True

    def elapsed(self) -> float:
        """Wall seconds since tick 0 (0 before the first tick)."""
        return 0.0 if self.t0 is None else self.clock() - self.t0

    def ticks(self) -> Iterator[Tick]:
        k = 0
        self.t0 = self.clock()
        limit = self.scheduled if self.duration is not None else None
        while not self._stop and (limit is None or k < limit):
            if self.realtime:
                due = self.t0 + k / self.fps
                now = self.clock()
                if now < due:
                    self.sleep(due - now)
                else:
                    late = math.floor((now - self.t0) * self.fps + 1e-9)
                    if late > k:  # more than one period behind: skip to the tick due now
                        skip = (min(late, limit) if limit is not None else late) - k
                        self.dropped += skip
                        k += skip
                        if limit is not None and k >= limit:
                            break
            yield Tick(k, k / self.fps)
            self.emitted += 1
            k += 1
