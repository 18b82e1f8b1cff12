"""The perception chain in one object: pose -> One-Euro filter -> features -> events, with per-stage timing.

Used by `fep-motion perceive`, by bench/perception.py and by the session loop:
`Perception.process(frame_bgr, t) -> (PoseFrame, Observation)`, or `process_pose(pose_frame)` for poses that were
estimated elsewhere or generated (perception.synthetic).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np

from perception.events import EventDetector, EventParams
from perception.features import FeatureConfig, FeatureExtractor
from perception.filter import FilterConfig, PoseFilter
from perception.pose import PoseEstimator, create_estimator
from perception.types import HumanEvent, Observation, PoseFrame

STAGES: tuple[str, ...] = ("decode", "pose", "filter", "features", "events")
DEFAULT_FILTER = FilterConfig()
DEFAULT_FEATURES = FeatureConfig()
DEFAULT_EVENTS = EventParams()


@dataclass
class StageTimer:
    """Per-frame milliseconds of each stage (decode is recorded by whoever reads the frames)."""

    samples: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def add(self, stage: str, ms: float) -> None:
        self.samples[stage].append(ms)

    def mean_ms(self, stage: str) -> float:
        values = self.samples[stage]
        return float(np.mean(values)) if values else float("nan")

    def percentile_ms(self, stage: str, q: float) -> float:
        values = self.samples[stage]
        return float(np.percentile(values, q)) if values else float("nan")

    def summary(self) -> dict[str, float]:
        """Mean ms per stage."""
        return {s: self.mean_ms(s) for s in STAGES}


class Perception:
    """Pose estimation, filtering, features and event detection for one stream."""

    def __init__(
        self,
        estimator: PoseEstimator | None = None,
        *,
        backend: str = "mediapipe",
        model_path: str | Path | None = None,
        static_image_mode: bool = False,
        filter_config: FilterConfig = DEFAULT_FILTER,
        feature_config: FeatureConfig = DEFAULT_FEATURES,
        event_params: EventParams = DEFAULT_EVENTS,
        create_pose: bool = True,
    ) -> None:
        """`estimator` defaults to `create_estimator(backend, model_path, static_image_mode)`; pass
        create_pose=False for a pose-only pipeline fed through process_pose (no model is loaded)."""
        self.static_image_mode = static_image_mode
        self.estimator = estimator
        if self.estimator is None and create_pose:
            self.estimator = create_estimator(backend, model_path, static_image_mode=static_image_mode)
        self.filter = PoseFilter(filter_config)
        self.features = FeatureExtractor(feature_config)
        self.events = EventDetector(event_params)
        self.timer = StageTimer()
        self.last_raw: PoseFrame | None = None

    def process(self, frame_bgr: np.ndarray, t: float, frame_index: int = -1) -> tuple[PoseFrame, Observation]:
        """One camera frame -> (filtered PoseFrame, Observation with the events detected at this frame)."""
        if self.estimator is None:
            raise RuntimeError("Perception was built with create_pose=False; use process_pose")
        t0 = time.perf_counter()
        raw = self.estimator.estimate(frame_bgr, t, frame_index)
        self.timer.add("pose", (time.perf_counter() - t0) * 1e3)
        return self.process_pose(raw)

    def process_pose(self, pose: PoseFrame) -> tuple[PoseFrame, Observation]:
        """An already-estimated PoseFrame -> (filtered PoseFrame, Observation)."""
        self.last_raw = pose
        t0 = time.perf_counter()
        if self.static_image_mode:  # unrelated stills: no smoothing or velocities across them
            filtered = pose
            self.filter.reset()
            self.features.reset()
        else:
            filtered = self.filter(pose)
        t1 = time.perf_counter()
        obs = self.features.update(filtered)
        t2 = time.perf_counter()
        self.events.update(obs, filtered)  # the gate judges the same filtered landmarks
        t3 = time.perf_counter()
        self.timer.add("filter", (t1 - t0) * 1e3)
        self.timer.add("features", (t2 - t1) * 1e3)
        self.timer.add("events", (t3 - t2) * 1e3)
        return filtered, obs

    def flush(self, t: float) -> list[HumanEvent]:
        """End of stream: events still in progress, completed at time t."""
        return self.events.flush(t)

    def reset(self) -> None:
        """Start a new stream with the same model (filters, velocities and detectors forget the past)."""
        self.filter.reset()
        self.features.reset()
        self.events.reset()

    def close(self) -> None:
        if self.estimator is not None:
            self.estimator.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
