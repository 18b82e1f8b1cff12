"""The agent's render + video stage in a spawned process, for real-time sessions.

PyBullet keeps the GIL while TinyRenderer rasterizes: a render thread beside the loop took 42 % of the loop thread's
time, in stalls of up to 15 ms per frame (measured here, docs/architecture.md §1), so on 2 cores the loop dropped
ticks. The child owns the renderer and the video writer and runs a `RenderWorker` in its synchronous mode; the loop
posts each tick's pose and face into a shared-memory mailbox (never blocks: newest wins) and reads the newest image
back for the live display. The interface is RenderWorker's: submit, latest, error, rendered, skipped, close.
"""
from __future__ import annotations

import multiprocessing as mp
import pickle
import time
from multiprocessing import shared_memory
from typing import Any

import numpy as np

READY_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 30.0
JOB_BYTES = 4096  # one pickled (index, pose, face) job; a pose and a FaceState take ~400 bytes
# header, int64 words: job sequence, closing flag, last tick index, image sequence
_HEADER = 4
_JOB_SEQ, _CLOSING, _LAST_IDX, _IMG_SEQ = range(_HEADER)


class RenderError(RuntimeError):
    """The render process failed; the message names the error it raised."""


class _Layout:
    """Views into the shared block: header words, two job slots, two image slots (double-buffered, seqlock read)."""

    def __init__(self, buf: memoryview, width: int, height: int) -> None:
        self.header = np.ndarray((_HEADER,), np.int64, buf, 0)
        off = _HEADER * 8
        # per job slot: (the sequence number it holds, -1 while being written; its length in bytes)
        self.job_meta = np.ndarray((2, 2), np.int64, buf, off)
        off += 32
        self.jobs = [np.ndarray((JOB_BYTES,), np.uint8, buf, off + i * JOB_BYTES) for i in range(2)]
        off += 2 * JOB_BYTES
        n = height * width * 3
        self.images = [np.ndarray((height, width, 3), np.uint8, buf, off + i * n) for i in range(2)]

    @staticmethod
    def size(width: int, height: int) -> int:
        return _HEADER * 8 + 32 + 2 * JOB_BYTES + 2 * height * width * 3


def _serve(shm_name: str, width: int, height: int, backend: str, video_path: str | None, fps: float,
           wake: Any, status: Any) -> None:
    """The child: build the renderer and video, render the newest posted job until closing, pad and close the
    video, report the counts."""
    from fep_motion.body.render import BodyRenderer
    from fep_motion.session.render_worker import RenderWorker

    shm = shared_memory.SharedMemory(name=shm_name)
    parent = mp.parent_process()
    lay = _Layout(shm.buf, width, height)
    try:
        try:
            renderer = BodyRenderer(width, height, backend=backend)
            video = None
            if video_path is not None:
                from perception.video import VideoWriter

                video = VideoWriter(video_path, fps, (renderer.width, renderer.height))
        except Exception as exc:  # noqa: BLE001 - reported to the parent as a start-up error
            status.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        worker = RenderWorker(renderer.render, video, threaded=False)
        status.send(("ready", ""))
        done_seq, skipped, reported = 0, 0, False
        while True:
            if wake.acquire(timeout=0.5):
                while wake.acquire(block=False):  # one pass serves every post so far
                    pass
            seq = int(lay.header[_JOB_SEQ])
            if seq > done_seq:
                job = _read_job(lay, seq)
                skipped += seq - done_seq - 1
                done_seq = seq
                if job is not None and worker.error is None:
                    worker.submit(*job)
                    if worker.error is None and worker.latest is not None:
                        slot = (int(lay.header[_IMG_SEQ]) + 1) % 2
                        lay.images[slot][...] = worker.latest
                        lay.header[_IMG_SEQ] += 1
                if worker.error is not None and not reported:
                    status.send(("error", f"{type(worker.error).__name__}: {worker.error}"))
                    reported = True
            # the loop's process was killed: finish the video as far as it was rendered
            orphaned = parent is not None and not parent.is_alive()
            if orphaned or (lay.header[_CLOSING] and int(lay.header[_JOB_SEQ]) == done_seq):
                last = int(lay.header[_LAST_IDX])
                try:
                    worker.close(last if last >= 0 and not orphaned else None)
                except Exception as exc:  # noqa: BLE001 - the video could not be finished
                    if not reported and not orphaned:
                        status.send(("error", f"{type(exc).__name__}: {exc}"))
                if not orphaned:
                    status.send(("closed", {"rendered": worker.rendered, "skipped": skipped + worker.skipped}))
                close = getattr(renderer, "close", None)
                if close is not None:
                    close()
                return
    finally:
        del lay
        shm.close()


def _read_job(lay: _Layout, seq: int) -> tuple | None:
    """The job posted as `seq`, or None if its slot was being rewritten while it was read (a seqlock: the slot's
    number is checked before and after the copy; the rewrite is a newer job, taken on the next pass)."""
    slot = seq % 2
    if int(lay.job_meta[slot, 0]) != seq:
        return None
    n = int(lay.job_meta[slot, 1])
    data = bytes(lay.jobs[slot][:n])
    if int(lay.job_meta[slot, 0]) != seq:
        return None
    return pickle.loads(data)


class ProcessRenderWorker:
    """RenderWorker's real-time mode with the renderer and video in a spawned process (see the module docstring)."""

    def __init__(self, size: tuple[int, int], backend: str, video_path: str | None, fps: float) -> None:
        self.width, self.height = int(size[0]), int(size[1])
        self._shm = shared_memory.SharedMemory(create=True, size=_Layout.size(self.width, self.height))
        self._lay: _Layout | None = _Layout(self._shm.buf, self.width, self.height)
        self._lay.header[:] = 0
        self._lay.header[_LAST_IDX] = -1
        ctx = mp.get_context("spawn")
        # a semaphore, not an Event: Event.set waits for the woken process to run (a 3 ms p95 stall, measured)
        self._wake = ctx.Semaphore(0)
        self._status, child_status = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, name="render", daemon=True,
                                 args=(self._shm.name, self.width, self.height, backend,
                                       None if video_path is None else str(video_path), float(fps), self._wake,
                                       child_status))
        self._proc.start()
        child_status.close()
        self._error: BaseException | None = None
        self._closed: dict[str, int] = {}
        self._img_seq = 0
        self._latest: np.ndarray | None = None
        self._seq = 0
        if not self._status.poll(READY_TIMEOUT_S):
            self._stop()
            raise RenderError(f"the render process did not start within {READY_TIMEOUT_S:.0f} s")
        kind, detail = self._status.recv()
        if kind == "error":
            self._stop()
            raise RenderError(detail)

    # ---- the loop's side -----------------------------------------------------------------------------------------
    def submit(self, idx: int, pose: np.ndarray, face: Any = None) -> None:
        """Post tick idx's pose and face (never blocks; a job the child has not started yet is replaced)."""
        if self._lay is None or self.error is not None:
            return
        data = pickle.dumps((int(idx), np.asarray(pose, np.float64), face), protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > JOB_BYTES:
            self._error = RenderError(f"render job of {len(data)} bytes exceeds the {JOB_BYTES}-byte mailbox")
            return
        seq = self._seq + 1
        slot = seq % 2
        meta = self._lay.job_meta[slot]
        meta[0] = -1  # being written: a reader of this slot discards what it copied
        self._lay.jobs[slot][: len(data)] = np.frombuffer(data, np.uint8)
        meta[1] = len(data)
        meta[0] = seq
        self._lay.header[_JOB_SEQ] = seq
        self._seq = seq
        self._wake.release()

    @property
    def latest(self) -> np.ndarray | None:
        """The newest rendered image (a copy, refreshed when the child has rendered a new one)."""
        if self._lay is None:
            return self._latest
        seq = int(self._lay.header[_IMG_SEQ])
        if seq != self._img_seq and seq > 0:
            self._latest = self._lay.images[seq % 2].copy()
            self._img_seq = seq
        return self._latest

    @property
    def error(self) -> BaseException | None:
        """The render process's error, if it reported one or died."""
        if self._error is None:
            self._poll()
            if self._error is None and not self._closed and not self._proc.is_alive():
                self._error = RenderError(f"the render process exited (code {self._proc.exitcode})")
        return self._error

    @property
    def rendered(self) -> int:
        return self._closed.get("rendered", 0)

    @property
    def skipped(self) -> int:
        return self._closed.get("skipped", 0)

    def _poll(self) -> None:
        try:
            while self._status.poll():
                kind, detail = self._status.recv()
                if kind == "error" and self._error is None:
                    self._error = RenderError(detail)
                elif kind == "closed":
                    self._closed = detail
        except (EOFError, OSError):
            pass

    def close(self, last_idx: int | None = None) -> None:
        """Finish the pending job, pad the video to `last_idx` (the last tick), close the video and the process."""
        if self._lay is None:
            return
        if self._proc.is_alive():
            self._lay.header[_LAST_IDX] = -1 if last_idx is None else int(last_idx)
            self._lay.header[_CLOSING] = 1
            self._wake.release()
            deadline = time.monotonic() + CLOSE_TIMEOUT_S
            while not self._closed and self._proc.is_alive() and time.monotonic() < deadline:
                self._status.poll(0.1)
                self._poll()
            self._proc.join(2.0)
        self.latest  # noqa: B018 - keep the last image for a display that asks after the close
        self._poll()
        self._stop()
        if not self._closed and self._error is None:
            self._error = RenderError("the render process did not finish the video in time")

    def _stop(self) -> None:
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(1.0)
        self._status.close()
        self._lay = None  # the views must go before the block is closed
        self._shm.close()
        self._shm.unlink()
