"""Disk full: `fep-motion demo` whose study database lives on a small tmpfs that fills up mid-session ends with one
line (exit 2, no traceback), the session ends `interrupted`, an earlier session and every frame committed before the
failure are intact (byte-for-byte equal to the same seeded session run on a disk with room)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fep_motion.store import Store

CLI = [sys.executable, "-m", "cli"]
TMPFS_SIZE = "2m"  # ~9 s of a 30 Hz session (frames, observations, decisions; WAL) before it is full


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for this test (root only; skipped with the reason where mounting is not permitted)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("the disk-full test mounts a small tmpfs and needs root (CI runs as root)")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mnt)],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def _demo(out: Path, duration: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(CLI + ["demo", "--fast", "--no-video", "--seed", "3", "--duration", str(duration),
                                 "--out", str(out)], capture_output=True, text=True, timeout=300, env=env, check=False)


FRAME_COLS = "idx, t, valid, gap, landmarks, world, agent_pose"


def test_disk_full_ends_interrupted_with_one_line_and_keeps_committed_frames(tiny_disk: Path, tmp_path: Path):
    first = _demo(tiny_disk, 2.0)  # an earlier session on the same database
    assert first.returncode == 0, first.stderr
    full = _demo(tiny_disk, 600.0)  # far more than 2 MB of frames
    assert full.returncode == 2, full.stdout + full.stderr
    err = full.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(tiny_disk / "study.db") in err and "full" in err and "intact" in err and "free disk space" in err

    saved = tmp_path / "saved"  # what the user does next: move the database to a disk with room, then open it
    saved.mkdir()
    for name in os.listdir(tiny_disk):
        shutil.copy(tiny_disk / name, saved / name)
    with Store.open(saved / "study.db") as st:
        assert st.integrity_ok()
        s1, s2 = st.sessions()
        assert s1.status == "completed" and s1.stored_frames == 60 == st.frame_count(s1.id)
        assert s2.status == "interrupted"
        rows = st.conn.execute(f"SELECT {FRAME_COLS} FROM frames WHERE session_id = ? ORDER BY idx",
                               (s2.id,)).fetchall()
        n = len(rows)
        assert n == s2.stored_frames and 60 < n < 600 * 30
        assert [r[0] for r in rows] == list(range(n))  # committed in order, no hole
        committed_before_failure = rows

    ref = _demo(tmp_path / "ref", n / 30.0)  # the same seeded session on a disk with room
    assert ref.returncode == 0, ref.stderr
    with Store.open(tmp_path / "ref" / "study.db") as st:
        sid = st.sessions()[0].id
        expect = st.conn.execute(f"SELECT {FRAME_COLS} FROM frames WHERE session_id = ? ORDER BY idx",
                                 (sid,)).fetchall()
    assert len(expect) == n
    assert committed_before_failure == expect  # every committed frame intact, byte for byte
