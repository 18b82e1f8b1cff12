"""The fixed-rate scheduler: exact tick grid, drops (never queues) when late, virtual time never sleeps."""
from __future__ import annotations

import pytest

from fep_motion.session.scheduler import Scheduler


class SimClock:
    """A simulated monotonic clock: sleep() advances it, work(dt) models processing time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, dt: float) -> None:
        self.slept += dt
        self.now += dt

    def work(self, dt: float) -> None:
        self.now += dt


def test_realtime_on_time_emits_every_tick_at_its_due_time():
    clk = SimClock()
    s = Scheduler(30, 2.0, realtime=True, clock=clk, sleep=clk.sleep)
    seen = []
    for tick in s.ticks():
        assert clk.now - s.t0 == pytest.approx(tick.index / 30)  # wall time of the tick == its session time
        seen.append(tick.index)
        clk.work(0.01)
    assert seen == list(range(60)) and s.dropped == 0 and s.scheduled == 60


def test_realtime_under_load_drops_ticks_instead_of_queueing():
    clk = SimClock()
    s = Scheduler(30, 2.0, realtime=True, clock=clk, sleep=clk.sleep)
    lateness = []
    for tick in s.ticks():
        lateness.append(clk.now - s.t0 - tick.t)
        clk.work(0.08 if tick.index % 2 == 0 else 0.01)  # every other frame takes 2.4 periods
    assert s.dropped > 0 and s.emitted + s.dropped == s.scheduled
    assert max(lateness) < 1 / 30 + 1e-9  # latency stays bounded: a late tick is skipped, not queued


def test_virtual_time_never_sleeps_and_stop_ends_early():
    clk = SimClock()
    s = Scheduler(30, 10.0, realtime=False, clock=clk, sleep=clk.sleep)
    ticks = []
    for tick in s.ticks():
        ticks.append(tick)
        clk.work(0.5)  # slow work is fine in virtual time: nothing dropped
        if tick.index == 99:
            s.stop()
    assert clk.slept == 0 and s.dropped == 0 and len(ticks) == 100 and ticks[-1].t == pytest.approx(99 / 30)


def test_bad_rates_are_rejected():
    with pytest.raises(ValueError, match="fps"):
        Scheduler(0)
    with pytest.raises(ValueError, match="duration"):
        Scheduler(30, -1)
