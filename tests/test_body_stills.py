"""The README's character stills are what the current code renders: each PNG in docs/img/character is regenerated
and compared within a tolerance (renderer float noise across machines), and the CLI writes the same set."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cli import main
from fep_motion.body.render import BodyRenderer
from fep_motion.body.stills import STILL_SIZE, STILLS, render_stills

STILLS_DIR = Path(__file__).resolve().parents[1] / "docs" / "img" / "character"
MEAN_TOLERANCE = 1.5  # grey levels of 255, mean absolute difference of the whole still
CHANGED_TOLERANCE = 0.01  # share of pixels that may differ by more than 40 levels


@pytest.fixture(scope="module")
def fresh():
    with BodyRenderer(*STILL_SIZE, backend="tiny") as r:
        return render_stills(r.render)


@pytest.mark.parametrize("name", [s.name for s in STILLS])
def test_committed_still_matches_the_current_character(fresh, name):
    committed = cv2.imread(str(STILLS_DIR / f"{name}.png"))
    assert committed is not None, f"{name}.png missing: run `fep-motion body stills --out docs/img/character`"
    diff = np.abs(committed.astype(np.int16) - fresh[name].astype(np.int16))
    assert diff.mean() < MEAN_TOLERANCE and (diff.max(axis=2) > 40).mean() < CHANGED_TOLERANCE, (
        f"{name}.png is stale (mean diff {diff.mean():.2f}): run `fep-motion body stills --out docs/img/character`"
    )


def test_stills_show_what_they_name(fresh):
    idle = fresh["idle"].astype(np.int16)
    for name in ("nod", "wave", "speaking", "gaze_left", "gaze_right"):
        # each differs from idle (face-only: ~0.15)
        assert np.abs(fresh[name].astype(np.int16) - idle).mean() > 0.08, name
    assert np.abs(fresh["wave"].astype(np.int16) - idle).mean() > 3.0  # an arm raised: a large change


def test_cli_writes_the_stills_and_rejects_a_file_as_out(tmp_path, capsys):
    assert main(["body", "stills", "--out", str(tmp_path / "s"), "--size", "160x120"]) == 0
    assert sorted(p.stem for p in (tmp_path / "s").glob("*.png")) == sorted(s.name for s in STILLS)
    assert cv2.imread(str(tmp_path / "s" / "idle.png")).shape == (120, 160, 3)
    (tmp_path / "f").write_text("x")
    assert main(["body", "stills", "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--out" in err and len(err.splitlines()) == 1
