"""Frame sources: webcam, video file, image file or folder of images -> frames with monotonic timestamps.

Camera drop-out and end of stream arrive as `SourceEvent`s in the same iterator, never as exceptions; input that
cannot be read at all (missing, empty, corrupt, not an image) raises PerceptionError naming the file.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from perception.errors import PerceptionError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
DEFAULT_FOLDER_FPS = 10.0
SOURCE_EVENT_KINDS: tuple[str, ...] = ("dropout", "recovered", "end")


@dataclass
class Frame:
    """One decoded frame: BGR uint8 image [H, W, 3], timestamp t in seconds (monotonic), index in the stream."""

    image: np.ndarray
    t: float
    index: int


@dataclass
class SourceEvent:
    """A stream condition that is not a frame: `dropout` (camera stopped delivering), `recovered`, or `end`."""

    kind: str  # one of SOURCE_EVENT_KINDS
    t: float
    index: int
    detail: str = ""


SourceItem = Frame | SourceEvent


class IteratedSource:
    """What every source (frames or audio) shares: iterating runs `frames()`; `close()` releases the device, file or
    process (idempotent); usable as a context manager."""

    def frames(self) -> Iterator:
        raise NotImplementedError

    def __iter__(self) -> Iterator:
        return self.frames()

    def close(self) -> None:
        """Release the device/file handle (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameSource(IteratedSource):
    """Base class: iterate to get Frame and SourceEvent items; the last item is always SourceEvent('end')."""

    name: str = ""
    fps: float = 0.0
    frame_count: int | None = None  # None for live cameras
    is_stream: bool = True  # False for still images (pose estimation then runs in static-image mode)

    def __init__(self, resize: tuple[int, int] | None = None) -> None:
        self.resize = resize

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        import cv2

        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if self.resize is not None and (image.shape[1], image.shape[0]) != tuple(self.resize):
            image = cv2.resize(image, tuple(self.resize), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(image, dtype=np.uint8)

    def frames(self) -> Iterator[SourceItem]:
        raise NotImplementedError


def _read_image(path: Path) -> np.ndarray:
    """Decode one image file or raise PerceptionError naming it."""
    import cv2

    if not path.is_file():
        raise PerceptionError(f"{path}: image file not found; check the path")
    if path.stat().st_size == 0:
        raise PerceptionError(f"{path}: image file is empty; pass a readable image (jpg/png/...)")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise PerceptionError(f"{path}: cannot decode image (corrupt or unsupported format); pass a jpg/png/bmp/tif")
    return image


class ImageFileSource(FrameSource):
    """A single still image, delivered once at t=0."""

    is_stream = False

    def __init__(self, path: str | Path, resize: tuple[int, int] | None = None) -> None:
        super().__init__(resize)
        self.path = Path(path)
        self.name = str(self.path)
        self._image = self._prepare(_read_image(self.path))
        self.fps = DEFAULT_FOLDER_FPS
        self.frame_count = 1
        self.size = (self._image.shape[1], self._image.shape[0])

    def frames(self) -> Iterator[SourceItem]:
        yield Frame(image=self._image, t=0.0, index=0)
        yield SourceEvent("end", t=1.0 / self.fps, index=1, detail="1 image")


class ImageFolderSource(FrameSource):
    """All images of a folder in name order; t = index / fps (default 10 fps). Treated as independent stills."""

    is_stream = False

    def __init__(self, path: str | Path, fps: float | None = None, resize: tuple[int, int] | None = None) -> None:
        super().__init__(resize)
        self.path = Path(path)
        self.name = str(self.path)
        try:
            names = list(self.path.iterdir())
        except OSError as exc:
            raise PerceptionError(f"{self.path}: cannot list folder ({exc.strerror}); check its permissions") from None
        self.files = sorted(p for p in names if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not self.files:
            raise PerceptionError(
                f"{self.path}: folder holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}); pass a folder of images"
            )
        self.fps = float(fps or DEFAULT_FOLDER_FPS)
        self.frame_count = len(self.files)
        first = self._prepare(_read_image(self.files[0]))
        self.size = (first.shape[1], first.shape[0])

    def frames(self) -> Iterator[SourceItem]:
        for i, path in enumerate(self.files):
            yield Frame(image=self._prepare(_read_image(path)), t=i / self.fps, index=i)
        n = len(self.files)
        yield SourceEvent("end", t=n / self.fps, index=n, detail=f"{n} images")


class VideoFileSource(FrameSource):
    """A video file decoded with OpenCV; t = frame index / container fps (deterministic, monotonic)."""

    def __init__(self, path: str | Path, resize: tuple[int, int] | None = None) -> None:
        import cv2

        super().__init__(resize)
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise PerceptionError(f"{self.path}: video file not found; check the path")
        if self.path.stat().st_size == 0:
            raise PerceptionError(f"{self.path}: video file is empty; pass a readable video (avi/mp4/...)")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise PerceptionError(f"{self.path}: cannot open video (corrupt or unsupported codec); re-encode it as mp4")
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise PerceptionError(f"{self.path}: video holds no decodable frame (corrupt or empty); re-encode it")
        self._first = self._prepare(first)
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if np.isfinite(fps) and 0.5 <= fps <= 1000 else 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self.size = (self._first.shape[1], self._first.shape[0])

    def frames(self) -> Iterator[SourceItem]:
        index = 0
        image: np.ndarray | None = self._first
        while image is not None:
            yield Frame(image=image, t=index / self.fps, index=index)
            index += 1
            ok, raw = self._cap.read()
            image = self._prepare(raw) if ok and raw is not None else None
        detail = f"{index} frames"
        if self.frame_count is not None and index < self.frame_count:
            detail = f"video ended early: decoded {index} of {self.frame_count} frames (truncated or corrupt file)"
        yield SourceEvent("end", t=index / self.fps, index=index, detail=detail)

    def close(self) -> None:
        self._cap.release()


class CameraSource(FrameSource):
    """A live camera by index; t from time.monotonic(). Failed reads become dropout events; a long one ends it."""

    frame_count = None

    def __init__(
        self,
        index: int,
        resize: tuple[int, int] | None = None,
        give_up_after_s: float = 5.0,
        retry_sleep_s: float = 0.05,
    ) -> None:
        import cv2

        super().__init__(resize)
        self.index = index
        self.name = f"camera {index}"
        self.give_up_after_s = give_up_after_s
        self.retry_sleep_s = retry_sleep_s
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            raise PerceptionError(f"camera {index}: cannot open (not connected or busy); check the index or the device")
        if resize is not None:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, resize[0])
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, resize[1])
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if np.isfinite(fps) and 1.0 <= fps <= 240 else 30.0
        self.size = resize or (
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        )
        self._t0 = time.monotonic()

    def frames(self) -> Iterator[SourceItem]:
        index = 0
        failing_since: float | None = None
        while True:
            ok, raw = self._cap.read()
            now = time.monotonic() - self._t0
            if ok and raw is not None:
                if failing_since is not None:
                    yield SourceEvent("recovered", t=now, index=index, detail=f"after {now - failing_since:.2f} s")
                    failing_since = None
                yield Frame(image=self._prepare(raw), t=now, index=index)
                index += 1
                continue
            if failing_since is None:
                failing_since = now
                yield SourceEvent("dropout", t=now, index=index, detail="camera returned no frame")
            elif now - failing_since > self.give_up_after_s:
                yield SourceEvent("end", t=now, index=index, detail=f"camera silent for {self.give_up_after_s:.1f} s")
                return
            time.sleep(self.retry_sleep_s)

    def close(self) -> None:
        self._cap.release()


def open_source(
    spec: str | int | Path, *, fps: float | None = None, resize: tuple[int, int] | None = None
) -> FrameSource:
    """Open "0" (camera index), a video file, an image file or a folder of images; PerceptionError if unreadable."""
    text = str(spec).strip()
    if isinstance(spec, int) or text.isdigit():
        return CameraSource(int(text), resize=resize)
    path = Path(text).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, fps=fps, resize=resize)
    if not path.exists():
        raise PerceptionError(f"{path}: no such file or folder; pass a video, an image, a folder or a camera index")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageFileSource(path, resize=resize)
    return VideoFileSource(path, resize=resize)
