"""Camera robustness in the loop: a device that stalls, errors and disappears gives recorded gaps, reconnects, and
never blocks the loop (a scripted device behind perception's FrameSource interface; no webcam exists here)."""
from __future__ import annotations

import time

import numpy as np

from fep_motion.session.runner import SessionSpec, run_session
from fep_motion.session.sources import FrameSourceAdapter
from fep_motion.store import Store
from perception.sources import Frame, FrameSource, SourceEvent


class ScriptedCamera(FrameSource):
    """30 fps frames of the messi image, then a 0.8 s stall announced as a dropout, then frames, then the device
    raises (unplugged); `opens` counts how often it was (re)opened."""

    opens = 0
    fps = 30.0
    frame_count = None
    name = "scripted camera"

    def __init__(self, image: np.ndarray) -> None:
        super().__init__()
        type(self).opens += 1
        self.image = image

    def frames(self):
        t0 = time.monotonic()
        for i in range(10):
            time.sleep(1 / 30)
            yield Frame(self.image, time.monotonic() - t0, i)
        yield SourceEvent("dropout", time.monotonic() - t0, 10, "camera returned no frame")
        time.sleep(0.8)
        yield SourceEvent("recovered", time.monotonic() - t0, 10)
        for i in range(10, 20):
            time.sleep(1 / 30)
            yield Frame(self.image, time.monotonic() - t0, i)
        raise OSError("device unplugged")


def test_stalling_and_unplugged_camera_gives_gaps_and_reconnects(tmp_path, messi_path):
    import cv2

    image = cv2.resize(cv2.imread(str(messi_path)), (640, 480))
    ScriptedCamera.opens = 0
    src = FrameSourceAdapter("scripted", reconnect_attempts=1, opener=lambda: ScriptedCamera(image))
    assert src.is_camera
    spec = SessionSpec(tmp_path / "s.db", "P01", "fep", "live", fps=30.0, duration=None, realtime=True,
                       progress=False)
    t0 = time.monotonic()
    sid, result = run_session(spec, src)
    wall = time.monotonic() - t0
    assert ScriptedCamera.opens == 2  # first open + one reconnect
    assert result.status == "completed" and "gave up after 1 reconnect" in result.end_reason
    assert wall < 10
    with Store.open(tmp_path / "s.db") as st:
        gaps = st.gaps(sid)
        reasons = " | ".join(r for _, _, r in gaps)
        assert "dropout" in reasons and "device unplugged" in reasons
        stall = [g for g in gaps if "dropout" in g[2]]
        assert max(g[1] - g[0] for g in stall) >= 0.6  # a 0.8 s stall (after the reconnect) is one recorded gap
        valid_t = [r[0] for r in st.conn.execute("SELECT t FROM frames WHERE session_id = ? AND valid", (sid,))]
        unplugged = min(g[0] for g in gaps if "device unplugged" in g[2])
        # frames were processed before the faults and again from the reconnected device
        assert min(valid_t) < stall[0][0] and max(valid_t) > unplugged
        _, F = st.free_energy(sid)
        assert np.all(np.isfinite(F))
