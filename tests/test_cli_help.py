"""The `fep-motion` command's help is instant (building the parser loads no numerical library), session settings
are reported as the flags that set them, and progress is a bar on a terminal but one summary line in a log."""
from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys

import pytest

from cli import build_parser, main
from fep_motion.session.errors import SettingError
from fep_motion.session.modes import DemoOptions, OfflineOptions, run_demo, run_offline
from tty_progress import Progress

HEAVY = ("torch", "numpy", "scipy", "mediapipe", "pybullet", "matplotlib", "cv2", "tqdm")


def _subcommands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


def test_building_the_parser_imports_no_heavy_library():
    code = ("import sys, cli; cli.build_parser(); "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules) or 'none')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "none"


@pytest.mark.parametrize("argv", [[], *([c] for c in _subcommands())], ids=lambda a: " ".join(a) or "top")
def test_every_help_page_prints_and_exits_0(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: fep-motion {' '.join(argv)}".rstrip())


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "live", "run", "experiment", "body", "perceive", "export", "brain", "llm", "kernels"):
        assert re.search(rf"^    {command}\b", out, re.MULTILINE), command


def test_session_settings_are_named_by_field_in_the_session_layer(tmp_path):
    with pytest.raises(SettingError) as e:
        run_demo(DemoOptions(out=tmp_path, duration=-1.0), participant=None)
    assert str(e.value) == "duration: must be a positive number of seconds, got -1.0" and e.value.setting == "duration"
    with pytest.raises(SettingError, match="^source: .*nope.mp4: no such video file"):
        run_offline(OfflineOptions(source=str(tmp_path / "nope.mp4"), out=tmp_path))


@pytest.mark.parametrize("argv, line", [
    (["demo", "--duration", "-1", "--fast", "--no-video"], "fep-motion demo: error: --duration: must be a positive"),
    (["run", "{tmp}/clip.mp4", "--max-frames", "0"], "fep-motion run: error: --max-frames: must be >= 1, got 0"),
    (["run", "{tmp}/clip.mp4"], "fep-motion run: error: SOURCE: {tmp}/clip.mp4: no such video file"),
])
def test_the_cli_words_session_settings_as_its_flags(tmp_path, capsys, argv, line):
    argv = [a.format(tmp=tmp_path) for a in argv] + ["--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(line.format(tmp=tmp_path))


def test_progress_in_a_log_is_one_summary_line():
    log = io.StringIO()
    with Progress("analyze", "trial", stream=log) as bar:
        for done in range(1, 13):
            bar.set(done, 12)
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("analyze: 12 trials in ") and lines[0].endswith(" s")
    quiet = io.StringIO()
    with Progress("perceive", "frame", stream=quiet, enabled=False) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""


def test_progress_on_a_terminal_draws_a_bar_and_no_summary_line():
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as tty:
        with Progress("simulate", "trial", total=4, stream=tty) as bar:
            assert bar.interactive
            for _ in bar.wrap(range(4)):
                pass
        tty.flush()
        drawn = ""
        while select.select([master], [], [], 0.5)[0]:  # the terminal hands the bytes over in pieces
            drawn += os.read(master, 65536).decode()
    os.close(master)
    assert "simulate" in drawn and "4/4" in drawn and "trials in" not in drawn


def test_a_transient_or_failed_progress_leaves_no_line_in_a_log():
    log = io.StringIO()
    with Progress("demo", "frame", 90, leave=False, stream=log) as bar:  # the session prints its own summary
        bar.update(90)
    with pytest.raises(RuntimeError), Progress("analyze", "trial", stream=log) as bar:
        bar.update(2)
        raise RuntimeError("disk full")
    assert log.getvalue() == ""
