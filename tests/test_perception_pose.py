"""Pose estimation on real photos (MediaPipe legacy, static mode), the no-person case, and the Tasks backend errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from perception.errors import PerceptionError
from perception.pipeline import Perception
from perception.pose import MediaPipePose, TasksPose, create_estimator


@pytest.fixture(scope="module")
def still_estimator():
    est = MediaPipePose(static_image_mode=True)
    yield est
    est.close()


@pytest.mark.parametrize("fixture", ["messi_path", "basketball_path"])
def test_real_photo_gives_33_landmarks_mostly_visible(still_estimator, request, fixture):
    image = cv2.imread(str(request.getfixturevalue(fixture)))
    pose = still_estimator.estimate(image, t=0.0, frame_index=0)
    assert pose.valid and pose.landmarks.shape == (33, 4) and pose.landmarks.dtype == np.float32
    assert int((pose.landmarks[:, 3] > 0.5).sum()) >= 25
    assert pose.world is not None and pose.world.shape == (33, 3)
    assert pose.image_size == (image.shape[1], image.shape[0])
    inside = (pose.landmarks[:, :2] > -0.2) & (pose.landmarks[:, :2] < 1.2)
    assert inside.all()


def test_empty_scene_is_an_invalid_frame_not_an_error(still_estimator):
    blank = np.full((240, 320, 3), 127, np.uint8)
    pose = still_estimator.estimate(blank, t=1.5, frame_index=7)
    assert not pose.valid and np.isnan(pose.landmarks[:, :3]).all() and pose.t == 1.5 and pose.frame_index == 7


def test_wrong_frame_type_is_a_clear_error(still_estimator):
    with pytest.raises(PerceptionError, match="BGR"):
        still_estimator.estimate(np.zeros((10, 10), np.uint8), t=0.0)


def test_pipeline_on_a_photo_reports_head_features(still_estimator, messi_path):
    perception = Perception(still_estimator, static_image_mode=True)
    pose, obs = perception.process(cv2.imread(str(messi_path)), t=0.0)
    assert pose.valid and obs.mask[0] and np.isfinite(obs.get("head_yaw")) and 0 <= obs.get("facing") <= 1
    assert perception.timer.mean_ms("pose") > 0 and perception.timer.mean_ms("features") >= 0


def test_tasks_backend_needs_an_existing_valid_task_file(tmp_path):
    missing = tmp_path / "pose_landmarker_full.task"
    with pytest.raises(PerceptionError, match="not found") as err:
        TasksPose(missing)
    assert str(missing) in str(err.value)
    bogus = tmp_path / "bogus.task"
    bogus.write_bytes(b"this is not a model bundle")
    with pytest.raises(PerceptionError, match="not a valid .task model bundle") as err:
        TasksPose(bogus)
    assert str(bogus) in str(err.value) and "\n" not in str(err.value)
    import zipfile

    zipped = tmp_path / "empty_zip.task"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("readme.txt", "no model inside")
    with pytest.raises(PerceptionError, match="cannot load pose model") as err:
        TasksPose(zipped)
    assert str(zipped) in str(err.value)
    wrong = tmp_path / "model.tflite"
    wrong.write_bytes(b"x")
    with pytest.raises(PerceptionError, match=r"\.task"):
        create_estimator("tasks", wrong)
    with pytest.raises(PerceptionError, match="--model"):
        create_estimator("tasks", None)
    with pytest.raises(PerceptionError, match="unknown"):
        create_estimator("openpose")
