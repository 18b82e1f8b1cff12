"""Participant sources for the session loop: virtual participant, camera / video (with reconnects), recorded session.

Each returns a `Reading` per scheduler tick: a pose (already estimated), an image (to be estimated), a gap (nothing
this tick, with the reason) or the end of the stream. Sources never raise for a missing frame; the loop also guards
against sources that do raise (fault injection).
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from fep_motion.session.errors import SessionError
from perception.types import PoseFrame

READING_STATUSES: tuple[str, ...] = ("frame", "gap", "end")


@dataclass
class Reading:
    """What a source delivered for one tick."""

    status: str = "frame"  # frame | gap | end
    pose: PoseFrame | None = None
    image: np.ndarray | None = None  # BGR uint8 when the pose is still to be estimated
    detail: str = ""


class ParticipantSource(Protocol):
    """The loop's view of a participant stream."""

    name: str
    fps: float | None  # native rate (None: any rate, e.g. virtual)
    delivers_images: bool  # True: the loop runs the pose estimator on Reading.image

    def read(self, t: float) -> Reading: ...

    def close(self) -> None: ...


class VirtualParticipantSource:
    """Poses from an experiments.virtual_participant.VirtualParticipant (told of agent commands by the loop)."""

    fps = None
    delivers_images = False

    def __init__(self, participant) -> None:  # VirtualParticipant (experiments drives fep_motion; typed loosely)
        self.participant = participant
        self.name = f"virtual participant (seed {participant.seed})"

    def read(self, t: float) -> Reading:
        return Reading("frame", pose=self.participant.pose(t))

    def close(self) -> None:
        pass


class FrameSourceAdapter:
    """A perception FrameSource (camera or video file) read once per tick.

    Video files give one file frame per tick, in order (deterministic), decoded `read_ahead` frames ahead on a
    thread (`ReadAhead`) so decoding and resizing overlap the pose estimator instead of adding to the tick
    (read_ahead=0: decoded in the loop). Cameras are read by a grabber thread (`CameraGrabber`) so a stalled or
    unplugged device never blocks the loop: the loop gets the newest frame, or a gap with the reason, and the grabber
    reopens the camera after it gives up.
    """

    delivers_images = True

    def __init__(
        self,
        spec: str,
        reconnect_attempts: int = 3,
        resize: tuple[int, int] | None = (640, 480),
        opener: Callable[[], Any] | None = None,
        threaded: bool | None = None,
        read_ahead: int = 2,
    ) -> None:
        self.spec = str(spec)
        if opener is None:
            from perception.sources import open_source

            opener = lambda: open_source(self.spec, resize=resize)
        first = opener()
        self.name = getattr(first, "name", self.spec)
        self.fps = float(getattr(first, "fps", 30.0) or 30.0)
        self.is_camera = getattr(first, "frame_count", 1) is None
        self.frame_count = getattr(first, "frame_count", None)
        threaded = self.is_camera if threaded is None else threaded
        self._grabber: CameraGrabber | None = None
        self._src: Any = None
        if threaded:
            self._grabber = CameraGrabber(opener, first, reconnect_attempts, self.fps)
        else:
            self._src = first
            self._it = ReadAhead(first, read_ahead) if read_ahead > 0 else iter(first)

    @property
    def reconnects(self) -> int:
        return self._grabber.reconnects if self._grabber is not None else 0

    def read(self, t: float) -> Reading:
        if self._grabber is not None:
            return self._grabber.read()
        from perception.sources import SourceEvent

        item = next(self._it, None)
        while isinstance(item, SourceEvent) and item.kind == "recovered":
            item = next(self._it, None)
        if item is None or (isinstance(item, SourceEvent) and item.kind == "end"):
            return Reading("end", detail="" if item is None else item.detail)
        if isinstance(item, SourceEvent):  # dropout
            return Reading("gap", detail=f"{item.kind}: {item.detail}")
        return Reading("frame", image=item.image)

    def close(self) -> None:
        if self._grabber is not None:
            self._grabber.close()
        elif self._src is not None:
            if isinstance(self._it, ReadAhead):
                self._it.close()
            self._src.close()


class ReadAhead:
    """Iterates a FrameSource on a thread, at most `depth` items ahead, yielding its items in order.

    OpenCV releases the GIL while decoding and resizing, so on a 2-core machine the next frame is ready when the loop
    asks for it. An exception from the source is raised once, where the synchronous read would have raised it; the
    iterator then ends."""

    def __init__(self, source: Any, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"read-ahead depth must be >= 1, got {depth}")
        self._source = source
        self._items: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._closing = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="decode", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._closing.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(("item", item)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            self._put(("error", exc))
            return
        self._put(("end", None))

    def __iter__(self) -> ReadAhead:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        kind, value = self._items.get()
        if kind == "item":
            return value
        self._done = True
        if kind == "error":
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop decoding (the source itself is closed by its owner, after this)."""
        self._closing.set()
        self._done = True
        self._thread.join(timeout=2.0)


class CameraGrabber:
    """Reads a live FrameSource on a thread, keeps the newest frame, turns drop-outs into gap reasons, reconnects."""

    def __init__(self, opener: Callable[[], Any], first: Any, reconnect_attempts: int, fps: float) -> None:
        self._opener = opener
        self._src = first
        self.reconnect_attempts = reconnect_attempts
        self.reconnects = 0
        self.period = 1.0 / fps
        self._cv = threading.Condition()
        self._latest: Any = None
        self._seq = 0
        self._taken = 0
        self._problem = ""  # non-empty while the camera delivers nothing
        self._ended = ""
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)
        self._started = False  # the device is read from the session's first tick on, not while it is set up

    def _set(self, **kw: Any) -> None:
        with self._cv:
            for k, v in kw.items():
                setattr(self, k, v)
            self._cv.notify_all()

    def _run(self) -> None:
        from perception.sources import SourceEvent

        while not self._closing:
            end_detail = "camera stream ended"
            try:
                for item in self._src:
                    if self._closing:
                        return
                    if isinstance(item, SourceEvent):
                        if item.kind == "dropout":
                            self._set(_problem=f"camera dropout: {item.detail}")
                        elif item.kind == "recovered":
                            self._set(_problem="")
                        elif item.kind == "end":
                            end_detail = item.detail or end_detail
                            break
                        continue
                    with self._cv:
                        self._latest = item.image
                        self._seq += 1
                        self._problem = ""
                        self._cv.notify_all()
            except Exception as exc:  # noqa: BLE001 - a device error is a drop-out, then a reconnect
                end_detail = f"camera error: {type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):  # the device is already gone
                self._src.close()
            # reconnect: reopen the device a few times before giving up
            while not self._closing:
                if self.reconnects >= self.reconnect_attempts:
                    self._set(_ended=f"{end_detail}; gave up after {self.reconnects} reconnect attempts")
                    return
                self.reconnects += 1
                self._set(_problem=f"{end_detail}; reconnecting (attempt {self.reconnects})")
                time.sleep(0.5)
                try:
                    self._src = self._opener()
                    break
                except Exception as exc:  # noqa: BLE001 - still unplugged
                    end_detail = f"reopening failed: {exc}"

    def read(self) -> Reading:
        """The newest frame not yet taken (waiting at most 1.5 frame periods), else a gap or the end."""
        if not self._started:
            self._started = True
            self._thread.start()
        with self._cv:
            self._cv.wait_for(lambda: self._seq > self._taken or self._ended or self._closing,
                              timeout=1.5 * self.period)
            if self._seq > self._taken:
                self._taken = self._seq
                return Reading("frame", image=self._latest)
            if self._ended:
                return Reading("end", detail=self._ended)
            return Reading("gap", detail=self._problem or "no new camera frame")

    def close(self) -> None:
        self._set(_closing=True)
        if self._started:
            self._thread.join(timeout=2.0)
        with contextlib.suppress(Exception):  # closing a vanished device may fail; nothing to recover
            self._src.close()


class RecordedSessionSource:
    """A stored session's participant pose stream, replayed tick by tick (missing ticks become gaps)."""

    delivers_images = False

    def __init__(self, db_path: str, session_id: int) -> None:
        from fep_motion.store import Store

        with Store.open(db_path, create=False, recover=False) as store:
            info = store.session(session_id)
            stream = store.pose_stream(session_id)
        if not stream:
            raise SessionError(f"{db_path}:{session_id} has no stored frames to replay; pick another session")
        self.name = f"{db_path}:{session_id}"
        self.participant_id = info.participant_id
        self.fps = float(info.fps)
        self._by_idx = {row[0]: row for row in stream}
        self._last = max(self._by_idx)
        self._size = (640, 480)

    def read(self, t: float) -> Reading:
        idx = round(t * self.fps)
        if idx > self._last:
            return Reading("end", detail=f"recording ended at frame {self._last}")
        row = self._by_idx.get(idx)
        if row is None:
            return Reading("gap", detail="frame not in the recording")
        _, _t_rec, valid, lm, world, gap = row
        if gap:
            return Reading("gap", detail="gap in the recording")
        return Reading("frame", pose=PoseFrame(t=t, landmarks=lm, world=world, image_size=self._size, valid=valid,
                                               frame_index=idx))

    def close(self) -> None:
        pass


def parse_recorded_spec(source: str) -> tuple[str, int] | None:
    """'STUDY.db:12' -> ('STUDY.db', 12); None when `source` is not of that form."""
    head, sep, tail = source.rpartition(":")
    if not sep or not tail.strip().isdigit() or not head:
        return None
    return head, int(tail)
