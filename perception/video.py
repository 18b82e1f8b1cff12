"""Video writer for overlays and renders: H.264 through imageio-ffmpeg, OpenCV `mp4v` as the fallback.

`VideoWriter(path, fps, size)`; `write(frame_bgr)` takes BGR uint8 frames of exactly `size` (width, height);
`close()` finishes the file. Odd sizes are padded by one pixel (H.264 in yuv420p needs even dimensions).
"""
from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np

from perception.errors import PerceptionError


class VideoWriter:
    """Writes BGR frames to an mp4 file; `codec` tells which encoder was used ("h264" or "mp4v")."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], prefer_h264: bool = True) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        if not (self.fps > 0 and self.size[0] > 0 and self.size[1] > 0):
            raise PerceptionError(f"{self.path}: video needs fps > 0 and a positive size, got {fps} and {size}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PerceptionError(
                f"{self.path}: cannot create its folder ({exc.strerror}); choose another path") from None
        self._padded = (self.size[0] + self.size[0] % 2, self.size[1] + self.size[1] % 2)
        self.frames_written = 0
        self._gen = None
        self._cv = None
        self.codec = ""
        if prefer_h264:
            self._open_h264()
        if self._gen is None:
            self._open_mp4v()

    def _open_h264(self) -> None:
        try:
            import imageio_ffmpeg

            gen = imageio_ffmpeg.write_frames(
                str(self.path),
                self._padded,
                pix_fmt_in="bgr24",
                pix_fmt_out="yuv420p",
                fps=self.fps,
                codec="libx264",
                macro_block_size=2,
                ffmpeg_log_level="error",
                output_params=["-preset", "veryfast", "-crf", "23"],
            )
            gen.send(None)  # starts ffmpeg; raises if it cannot
        except Exception:  # noqa: BLE001 - any ffmpeg start failure means: use the OpenCV fallback
            return
        self._gen = gen
        self.codec = "h264"

    def _open_mp4v(self) -> None:
        import cv2

        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self._padded)
        if not writer.isOpened():
            raise PerceptionError(f"{self.path}: cannot open for writing (no H.264 or mp4v encoder); check the path")
        self._cv = writer
        self.codec = "mp4v"

    def write(self, frame_bgr: np.ndarray) -> None:
        """Append one BGR uint8 frame of the writer's size."""
        if frame_bgr.shape[:2] != (self.size[1], self.size[0]) or frame_bgr.ndim != 3:
            raise PerceptionError(
                f"{self.path}: frame of shape {frame_bgr.shape} does not match the video size {self.size}"
            )
        if self._padded != self.size:
            frame_bgr = np.pad(
                frame_bgr, ((0, self._padded[1] - self.size[1]), (0, self._padded[0] - self.size[0]), (0, 0)), "edge"
            )
        frame_bgr = np.ascontiguousarray(frame_bgr, dtype=np.uint8)
        if self._gen is not None:
            try:
                self._gen.send(frame_bgr)
            except (OSError, RuntimeError) as exc:
                raise PerceptionError(f"{self.path}: writing failed ({exc}); check free disk space") from None
        elif self._cv is not None:
            self._cv.write(frame_bgr)
        else:
            raise PerceptionError(f"{self.path}: writer is closed")
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self._gen is not None:
            gen, self._gen = self._gen, None
            try:
                gen.close()
            except (OSError, RuntimeError) as exc:
                raise PerceptionError(f"{self.path}: finishing the video failed ({exc})") from None
        if self._cv is not None:
            self._cv.release()
            self._cv = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
