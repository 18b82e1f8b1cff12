"""Frame sources: timestamps, end-of-stream events, and one clear error per kind of unreadable input."""
from __future__ import annotations

import itertools
import shutil

import cv2
import numpy as np
import pytest

from perception.errors import PerceptionError
from perception.sources import (
    CameraSource,
    Frame,
    ImageFileSource,
    ImageFolderSource,
    SourceEvent,
    VideoFileSource,
    open_source,
)


def test_video_frames_have_index_over_fps_timestamps(vtest_path):
    with open_source(vtest_path, resize=(320, 240)) as src:
        assert isinstance(src, VideoFileSource) and src.fps == pytest.approx(10.0) and src.frame_count == 795
        frames = [f for f in itertools.islice(src, 25)]
    assert all(isinstance(f, Frame) for f in frames)
    assert [f.index for f in frames] == list(range(25))
    assert np.allclose([f.t for f in frames], np.arange(25) / 10.0)
    assert frames[0].image.shape == (240, 320, 3) and frames[0].image.dtype == np.uint8


def test_truncated_video_ends_with_an_event_not_a_crash(vtest_path, tmp_path):
    data = vtest_path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 40])
    items = list(open_source(cut))
    assert isinstance(items[-1], SourceEvent) and items[-1].kind == "end"
    assert "ended early" in items[-1].detail and str(795) in items[-1].detail
    assert all(isinstance(i, Frame) for i in items[:-1]) and len(items) > 1


@pytest.mark.parametrize(
    "name, content, needle",
    [
        ("missing.avi", None, "no such file"),
        ("empty.avi", b"", "empty"),
        ("noise.avi", bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), "cannot open video"),
        ("broken.jpg", b"not really a jpeg", "cannot decode image"),
        ("empty.png", b"", "empty"),
    ],
)
def test_unreadable_input_raises_one_line_error_naming_the_file(tmp_path, name, content, needle):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PerceptionError) as err:
        open_source(path)
    msg = str(err.value)
    assert str(path) in msg and needle in msg and "\n" not in msg


def test_image_and_folder_sources(messi_path, basketball_path, tmp_path):
    img = open_source(messi_path)
    assert isinstance(img, ImageFileSource) and not img.is_stream
    items = list(img)
    assert isinstance(items[0], Frame) and items[0].t == 0.0 and items[-1].kind == "end"
    folder = tmp_path / "shots"
    folder.mkdir()
    shutil.copy(basketball_path, folder / "b.png")
    shutil.copy(messi_path, folder / "a.jpg")
    (folder / "notes.txt").write_text("not an image")
    src = open_source(folder, fps=4.0)
    assert isinstance(src, ImageFolderSource) and [p.name for p in src.files] == ["a.jpg", "b.png"]
    frames = [i for i in src if isinstance(i, Frame)]
    assert [f.t for f in frames] == [0.0, 0.25]
    assert frames[0].image.shape == cv2.imread(str(messi_path)).shape


def test_folder_without_images_and_bad_image_inside_a_folder(tmp_path, messi_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(PerceptionError, match="no images"):
        open_source(empty)
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(messi_path, folder / "a.jpg")
    (folder / "b.jpg").write_bytes(b"garbage")
    with pytest.raises(PerceptionError, match="b.jpg"):
        list(open_source(folder))


def test_camera_that_cannot_open_is_a_clear_error():
    with pytest.raises(PerceptionError, match="camera 97"):
        open_source("97")


class _FlakyCapture:
    """A stand-in for cv2.VideoCapture replaying a scripted sequence of read results."""

    def __init__(self, script: list[bool]) -> None:
        self.script = list(script)

    def read(self):
        ok = self.script.pop(0) if self.script else False
        return ok, (np.zeros((4, 4, 3), np.uint8) if ok else None)

    def release(self) -> None:
        pass


def test_camera_dropout_and_recovery_are_events():
    cam = CameraSource.__new__(CameraSource)  # skip opening a device: drive the read loop directly
    cam.resize, cam.index, cam.name = None, 0, "camera 0"
    cam.give_up_after_s, cam.retry_sleep_s = 0.05, 0.0
    cam._t0 = 0.0
    cam._cap = _FlakyCapture([True, False, False, True, True])
    items = list(cam.frames())
    kinds = [type(i).__name__ if isinstance(i, Frame) else i.kind for i in items]
    assert kinds[:4] == ["Frame", "dropout", "recovered", "Frame"]
    assert kinds[-1] == "end" and "silent" in items[-1].detail
    times = [i.t for i in items]
    assert times == sorted(times)
