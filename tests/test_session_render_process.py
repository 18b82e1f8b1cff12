"""Real-time sessions render off the loop's process and decode video files ahead of it: the same frames, the same
video, errors reported the way the threaded paths report them."""
from __future__ import annotations

import numpy as np
import pytest
from video_helpers import read_video

from fep_motion.body.face import FaceState
from fep_motion.body.render import BodyRenderer
from fep_motion.session.render_process import ProcessRenderWorker, RenderError
from fep_motion.session.runner import RENDER_SIZE, SessionSpec, run_session
from fep_motion.session.sources import FrameSourceAdapter, ReadAhead, VirtualParticipantSource
from perception.sources import Frame, FrameSource, SourceEvent


def _pose(k: int) -> np.ndarray:
    from fep_motion.body.joints import DOF_NAMES

    return np.sin(0.3 * k + np.arange(len(DOF_NAMES))) * 0.4


def test_process_worker_renders_what_the_renderer_renders_and_pads_the_video(tmp_path):
    w = ProcessRenderWorker(RENDER_SIZE, "tiny", tmp_path / "v.mp4", 30.0)
    try:
        face = FaceState(lid=0.3, jaw=0.5)
        w.submit(0, _pose(0), face)
        w.close(last_idx=9)  # the loop ran 10 ticks; only tick 0 was rendered
    finally:
        w.close()
    assert w.error is None and w.rendered == 1
    direct = BodyRenderer(*RENDER_SIZE, backend="tiny").render(_pose(0), face)
    np.testing.assert_array_equal(w.latest, direct)  # the image came back through shared memory unchanged
    frames = read_video(tmp_path / "v.mp4")
    assert len(frames) == 10  # video frame i is tick i: the last image repeated to the last tick


def test_process_worker_start_error_is_one_line(tmp_path):
    with pytest.raises(RenderError, match="render backend 'nope' unknown"):
        ProcessRenderWorker(RENDER_SIZE, "nope", None, 30.0)


def test_killed_render_process_is_an_error_not_a_hang(tmp_path):
    w = ProcessRenderWorker(RENDER_SIZE, "tiny", None, 30.0)
    w._proc.kill()
    w._proc.join(5)
    assert isinstance(w.error, RenderError) and "exited" in str(w.error)
    w.submit(1, _pose(1))  # ignored, never blocks
    w.close(1)


def test_realtime_session_video_has_one_frame_per_tick(tmp_path):
    from experiments.virtual_participant import VirtualParticipant

    vp = VirtualParticipant(seed=3)
    spec = SessionSpec(tmp_path / "s.db", "P01", "fep", "demo", duration=2.0, realtime=True, seed=3,
                       video_path=tmp_path / "agent.mp4", progress=False)
    _, result = run_session(spec, VirtualParticipantSource(vp), participant=vp)
    assert result.status == "completed" and not result.warnings
    frames = read_video(tmp_path / "agent.mp4")
    assert len(frames) == result.stored == 60
    assert frames[-1].std() > 5  # the character, not a blank frame


class Numbered(FrameSource):
    """Frames whose pixels hold their index; raises after `fail_at` frames when set."""

    fps = 30.0
    name = "numbered"

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        super().__init__()
        self.n, self.fail_at = n, fail_at
        self.frame_count = n

    def frames(self):
        for i in range(self.n):
            if self.fail_at is not None and i == self.fail_at:
                raise OSError("decoder error")
            yield Frame(np.full((4, 4, 3), i, np.uint8), i / 30, i)
        yield SourceEvent("end", self.n / 30, self.n, f"{self.n} frames")


def test_read_ahead_yields_the_source_items_in_order():
    items = list(ReadAhead(Numbered(50), depth=2))
    assert [int(x.image[0, 0, 0]) for x in items[:-1]] == list(range(50))
    assert isinstance(items[-1], SourceEvent) and items[-1].kind == "end"


def test_read_ahead_raises_where_the_source_raised_then_ends():
    it = ReadAhead(Numbered(10, fail_at=4), depth=3)
    got = [int(next(it).image[0, 0, 0]) for _ in range(4)]
    assert got == [0, 1, 2, 3]
    with pytest.raises(OSError, match="decoder error"):
        next(it)
    assert next(it, None) is None


def test_read_ahead_close_stops_a_long_source():
    it = ReadAhead(Numbered(10_000), depth=2)
    next(it)
    it.close()
    assert not it._thread.is_alive()


def test_video_file_source_reads_the_same_frames_ahead_or_not(vtest_path):
    def frames(read_ahead: int) -> list[np.ndarray]:
        src = FrameSourceAdapter(str(vtest_path), reconnect_attempts=0, resize=(320, 240), read_ahead=read_ahead)
        out = [src.read(k / 30).image for k in range(40)]
        src.close()
        return out

    for a, b in zip(frames(2), frames(0), strict=True):
        np.testing.assert_array_equal(a, b)


def test_render_process_killed_mid_session_costs_the_video_not_the_session(tmp_path):
    import multiprocessing as mp

    from experiments.virtual_participant import VirtualParticipant
    from fep_motion.store import Store

    def kill_renderer(index: int, t: float) -> None:
        if index == 15:
            for child in mp.active_children():
                if child.name == "render":
                    child.kill()

    vp = VirtualParticipant(seed=4)
    spec = SessionSpec(tmp_path / "s.db", "P01", "fep", "demo", duration=2.0, realtime=True, seed=4,
                       video_path=tmp_path / "agent.mp4", progress=False)
    sid, result = run_session(spec, VirtualParticipantSource(vp), participant=vp, on_tick=kill_renderer)
    assert result.status == "completed" and result.stored == 60
    assert any("rendering failed" in w and "render process exited" in w for w in result.warnings)
    with Store.open(tmp_path / "s.db") as st:
        assert st.frame_count(sid) == 60 and st.integrity_ok()


def test_a_job_slot_being_rewritten_is_skipped_not_unpickled():
    """The mailbox's seqlock: the child takes job `seq` only if its slot still holds `seq` after the copy."""
    import pickle

    from fep_motion.session.render_process import JOB_BYTES, _Layout, _read_job

    lay = _Layout(memoryview(bytearray(_Layout.size(16, 16))), 16, 16)
    data = pickle.dumps((3, np.zeros(4), None))
    lay.jobs[1][: len(data)] = np.frombuffer(data, np.uint8)
    lay.job_meta[1] = (3, len(data))
    idx, pose, face = _read_job(lay, 3)
    assert idx == 3 and face is None and len(pose) == 4
    lay.job_meta[1, 0] = -1  # the parent is writing job 5 into the slot
    lay.jobs[1][:] = 0xFF  # half-written garbage that would not unpickle
    assert _read_job(lay, 3) is None
    lay.job_meta[1] = (5, JOB_BYTES)  # job 5 finished: job 3 is gone
    assert _read_job(lay, 3) is None
