"""`fep-motion perceive`: the full vtest.avi acceptance run, and one-line errors with exit code 2."""
from __future__ import annotations

import csv
import math
import subprocess
import sys

import cv2
import pytest

from cli import main
from cli.perceive import csv_header
from perception.types import FEATURE_NAMES


def test_vtest_all_frames_with_overlay(vtest_path, tmp_path, capsys):
    out, overlay = tmp_path / "out" / "f.csv", tmp_path / "out" / "o.mp4"
    rc = main(["perceive", str(vtest_path), "--out", str(out), "--overlay", str(overlay), "--no-progress"])
    assert rc == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0].keys()) == csv_header() and set(FEATURE_NAMES) <= set(rows[0])
    assert len(rows) == 795 and [int(r["frame"]) for r in rows] == list(range(795))
    assert [float(r["t"]) for r in rows[:3]] == [0.0, 0.1, 0.2]
    valid = [r for r in rows if r["valid"] == "1"]
    assert len(valid) >= 0.5 * 795
    assert all(r["head_pitch"] == "" for r in rows if r["valid"] == "0")  # missing is empty, not 0
    assert any(r["head_pitch"] and math.isfinite(float(r["head_pitch"])) for r in valid)
    cap = cv2.VideoCapture(str(overlay))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 795
    assert "795 frames" in capsys.readouterr().out


def test_max_frames_on_an_image_folder(messi_path, basketball_path, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, p in enumerate([messi_path, basketball_path, messi_path]):
        (folder / f"{i}{p.suffix}").write_bytes(p.read_bytes())
    out = tmp_path / "f.csv"
    assert main(["perceive", str(folder), "--out", str(out), "--max-frames", "2", "--no-progress"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 and all(r["valid"] == "1" for r in rows)
    assert all(r["head_pitch_vel"] == "" for r in rows)  # stills are independent: no velocities


BAD_INPUTS = {
    "missing.avi": None,  # not created
    "empty.avi": b"",
    "junk.mp4": b"\x00junk" * 500,
    "bad.png": b"PNG?",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, name):
    source = tmp_path / name
    if BAD_INPUTS[name] is not None:
        source.write_bytes(BAD_INPUTS[name])
    rc = main(["perceive", str(source), "--out", str(tmp_path / "f.csv"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and name in err[0] and err[0].startswith("fep-motion perceive: error:")
    assert not (tmp_path / "f.csv").exists()  # nothing half-written for input that was never readable


def test_tasks_backend_without_a_model_file_is_one_line_exit_2(messi_path, tmp_path, capsys):
    model = tmp_path / "pose_landmarker_full.task"
    rc = main(["perceive", str(messi_path), "--out", str(tmp_path / "f.csv"), "--backend", "tasks",
               "--model", str(model), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(model) in err[0]


def test_subprocess_corrupt_video_prints_no_traceback(tmp_path):
    bad = tmp_path / "corrupt.avi"
    bad.write_bytes(b"RIFF" + b"\x13" * 3000)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "perceive", str(bad), "--out", str(tmp_path / "f.csv")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "corrupt.avi" in proc.stderr
    assert [line for line in proc.stderr.splitlines() if "error" in line] == [proc.stderr.strip().splitlines()[-1]]
