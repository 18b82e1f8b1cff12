"""Pose estimators: BGR frame -> PoseFrame (33 BlazePose landmarks, world landmarks, valid flag).

Two backends: MediaPipe's legacy `solutions.pose` (model inside the wheel, the default) and the Tasks
`PoseLandmarker` for a user-supplied `.task` model. Both are created once and reused; no person -> PoseFrame.empty.
"""
from __future__ import annotations

import os
import warnings
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Self

import numpy as np

from perception.errors import PerceptionError
from perception.types import NUM_LANDMARKS, PoseFrame

BACKENDS: tuple[str, ...] = ("mediapipe", "tasks")


def _quiet_mediapipe_logs() -> None:
    """Keep MediaPipe/TFLite INFO chatter off the user's terminal (errors still show)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")


class PoseEstimator(ABC):
    """Interface: `estimate(frame_bgr, t)` -> PoseFrame; `close()` releases the model."""

    name: str = "pose"

    @abstractmethod
    def estimate(self, frame_bgr: np.ndarray, t: float, frame_index: int = -1) -> PoseFrame:
        """Pose of the most prominent person in the frame; PoseFrame.empty when nobody is found."""

    def close(self) -> None:
        """Release the model (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_frame(frame_bgr: np.ndarray) -> tuple[int, int]:
    if not isinstance(frame_bgr, np.ndarray) or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        got = getattr(frame_bgr, "shape", type(frame_bgr))
        raise PerceptionError(f"pose: expected a BGR image [H, W, 3], got {got}")
    if frame_bgr.dtype != np.uint8:
        raise PerceptionError(f"pose: expected uint8 pixels, got {frame_bgr.dtype}; convert with .astype(np.uint8)")
    return frame_bgr.shape[1], frame_bgr.shape[0]


def _to_arrays(landmarks: object, world: object | None) -> tuple[np.ndarray, np.ndarray | None]:
    """MediaPipe landmark lists -> float32 [33, 4] (x, y, z, visibility) and [33, 3] world metres."""
    lm = np.array(
        [(p.x, p.y, p.z, p.visibility if p.visibility is not None else 0.0) for p in landmarks], dtype=np.float32
    )
    w = None
    if world is not None and len(world) == NUM_LANDMARKS:
        w = np.array([(p.x, p.y, p.z) for p in world], dtype=np.float32)
    return lm, w


class MediaPipePose(PoseEstimator):
    """MediaPipe legacy Pose (BlazePose GHUM, model_complexity=1), tracking mode on streams, static mode on images.

    MediaPipe's own landmark smoothing is switched off: its Python wrapper feeds synthetic 33 ms timestamps, so our
    OneEuro filter (perception.filter), driven by the real frame timestamps, does that job instead.
    """

    name = "mediapipe"

    def __init__(
        self,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        _quiet_mediapipe_logs()
        import mediapipe as mp

        self.static_image_mode = static_image_mode
        self._cv2 = __import__("cv2")
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static_image_mode,
            model_complexity=1,
            smooth_landmarks=False,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def estimate(self, frame_bgr: np.ndarray, t: float, frame_index: int = -1) -> PoseFrame:
        size = _check_frame(frame_bgr)
        rgb = self._cv2.cvtColor(frame_bgr, self._cv2.COLOR_BGR2RGB)
        result = self._pose.process(rgb)
        if result.pose_landmarks is None:
            return PoseFrame.empty(t, size, frame_index)
        lm, world = _to_arrays(
            result.pose_landmarks.landmark,
            result.pose_world_landmarks.landmark if result.pose_world_landmarks is not None else None,
        )
        return PoseFrame(t=t, landmarks=lm, world=world, image_size=size, valid=True, frame_index=frame_index)

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None


class TasksPose(PoseEstimator):
    """MediaPipe Tasks PoseLandmarker with a user-supplied `.task` model (e.g. pose_landmarker_full.task)."""

    name = "tasks"

    def __init__(self, model_path: str | Path, static_image_mode: bool = False, num_poses: int = 1) -> None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise PerceptionError(
                f"{path}: pose model not found; download pose_landmarker_full.task from the MediaPipe models page "
                "and pass --model PATH"
            )
        if path.suffix != ".task":
            raise PerceptionError(f"{path}: not a MediaPipe .task model bundle; pass a pose_landmarker_*.task file")
        if not zipfile.is_zipfile(path):  # a .task bundle is a zip archive; checked before MediaPipe logs anything
            raise PerceptionError(f"{path}: not a valid .task model bundle (not a zip archive); download it again")
        _quiet_mediapipe_logs()
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        self._mp_image = __import__("mediapipe").Image
        self._image_format = __import__("mediapipe").ImageFormat.SRGB
        self._cv2 = __import__("cv2")
        self.static_image_mode = static_image_mode
        mode = vision.RunningMode.IMAGE if static_image_mode else vision.RunningMode.VIDEO
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)), running_mode=mode, num_poses=num_poses
        )
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise PerceptionError(
                f"{path}: cannot load pose model ({str(exc).strip().splitlines()[0]}); "
                "pass a valid pose_landmarker .task"
            ) from None
        self._last_ms = -1

    def estimate(self, frame_bgr: np.ndarray, t: float, frame_index: int = -1) -> PoseFrame:
        size = _check_frame(frame_bgr)
        rgb = self._cv2.cvtColor(frame_bgr, self._cv2.COLOR_BGR2RGB)
        image = self._mp_image(image_format=self._image_format, data=rgb)
        if self.static_image_mode:
            result = self._landmarker.detect(image)
        else:
            ms = max(round(t * 1000.0), self._last_ms + 1)  # Tasks video mode demands increasing timestamps
            self._last_ms = ms
            result = self._landmarker.detect_for_video(image, ms)
        if not result.pose_landmarks:
            return PoseFrame.empty(t, size, frame_index)
        world = result.pose_world_landmarks[0] if result.pose_world_landmarks else None
        lm, w = _to_arrays(result.pose_landmarks[0], world)
        return PoseFrame(t=t, landmarks=lm, world=w, image_size=size, valid=True, frame_index=frame_index)

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None


def create_estimator(
    backend: str = "mediapipe", model_path: str | Path | None = None, static_image_mode: bool = False
) -> PoseEstimator:
    """Build a pose estimator by backend name; `tasks` needs a `.task` model path."""
    if backend == "mediapipe":
        if model_path is not None:
            raise PerceptionError("--model is only used with --backend tasks; drop it or add --backend tasks")
        return MediaPipePose(static_image_mode=static_image_mode)
    if backend == "tasks":
        if model_path is None:
            raise PerceptionError("--backend tasks needs --model PATH to a pose_landmarker_*.task file")
        return TasksPose(model_path, static_image_mode=static_image_mode)
    raise PerceptionError(f"backend {backend!r} unknown; choose one of {', '.join(BACKENDS)}")
