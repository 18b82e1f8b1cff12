"""Where utterances come from: the `t_seconds<TAB>text` script (and its one-line errors at the CLI), and the live
window's chat box (t / Tab to type, Enter sends, Esc cancels; q / space / m keep working when it is not focused)."""
from __future__ import annotations

import numpy as np
import pytest

from cli import main
from fep_motion.session.dialogue import ChatLine, ScriptLine, load_script
from fep_motion.session.display import CHAT_H, ChatBox, Dashboard
from fep_motion.session.errors import SessionError
from fep_motion.session.loop import DisplayState
from perception.types import Observation


def test_script_is_parsed_sorted_with_comments_and_blank_lines(tmp_path):
    f = tmp_path / "s.tsv"
    f.write_text("# a comment\n\n5\tSecond one.\n1.5\tHello there!\t(tabs inside kept)\n")
    assert load_script(f) == [ScriptLine(1.5, "Hello there!\t(tabs inside kept)"), ScriptLine(5.0, "Second one.")]


@pytest.mark.parametrize("body, words", [
    ("1.0 Hello\n", "no tab"), ("soon\tHello\n", "not a number"), ("-2\tHello\n", ">= 0"),
    ("nan\tHello\n", ">= 0"), ("3\t   \n", "empty"),
])
def test_malformed_script_lines_name_file_and_line(tmp_path, words, body):
    f = tmp_path / "s.tsv"
    f.write_text("0.5\tfine\n" + body)
    with pytest.raises(SessionError) as e:
        load_script(f)
    assert f"{f}:2:" in str(e.value) and words in str(e.value)


def test_missing_utterances_file_is_one_line_exit_2(tmp_path, capsys):
    missing = tmp_path / "nope.tsv"
    for cmd in (["demo", "--fast", "--no-video", "--duration", "1", "--out", str(tmp_path / "o")],
                ["run", "whatever.mp4", "--out", str(tmp_path / "r")],
                ["live", "--participant", "P01", "--no-display", "--store", str(tmp_path / "l.db")]):
        assert main(cmd + ["--utterances", str(missing)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(missing) in err and "Traceback" not in err
    assert not (tmp_path / "o" / "study.db").exists()  # nothing started


def test_utterances_with_the_brain_off_is_a_one_line_error(tmp_path, capsys):
    f = tmp_path / "s.tsv"
    f.write_text("1\tHi!\n")
    assert main(["demo", "--fast", "--no-video", "--duration", "1", "--out", str(tmp_path / "o"),
                 "--utterances", str(f), "--brain", "off"]) == 2
    err = capsys.readouterr().err
    assert "error: --utterances: a script needs a brain" in err and "brain is off" in err and err.count("\n") == 1


def test_chat_box_types_sends_cancels_and_leaves_window_keys_alone():
    said: list[str] = []
    box = ChatBox(said.append)
    assert box.key(ord("q")) == "quit" and box.key(ord(" ")) == "pause" and box.key(ord("m")) == "marker"
    assert box.key(-1) is None and box.key(255) is None
    assert box.key(ord("t")) is None and box.typing
    for c in "hi q m":  # while typing, q / space / m are text, not commands
        assert box.key(ord(c)) is None
    box.key(8)  # backspace
    assert box.text == "hi q "
    box.key(13)
    assert said == ["hi q"] and not box.typing
    box.key(9)  # Tab focuses too
    for c in "never sent":
        box.key(ord(c))
    box.key(27)  # Esc cancels without quitting
    assert said == ["hi q"] and not box.typing and box.key(27) == "quit"
    no_brain = ChatBox(None)
    assert no_brain.key(ord("t")) is None and not no_brain.typing  # without a brain there is nothing to type to


def test_dashboard_chat_panel_shows_the_conversation_and_the_input_line():
    obs = Observation.missing(3.0)
    chat = (ChatLine(1.0, "participant", "Hello"), ChatLine(1.2, "agent", "[greet] Hi!"),
            ChatLine(4.0, "system", "brain time-out: no reply"))
    state = DisplayState(3.0, None, None, obs, None, None, None, None, chat=chat)
    plain = Dashboard().compose(state)
    img = Dashboard(chat=True).compose(state)
    assert img.shape[0] == plain.shape[0] + CHAT_H
    panel = img[-CHAT_H:]
    green = (panel[..., 0] == 120) & (panel[..., 1] == 255) & (panel[..., 2] == 120)
    red = (panel[..., 0] == 80) & (panel[..., 1] == 80) & (panel[..., 2] == 255)
    white = (panel == 255).all(axis=-1)
    assert green.any() and red.any() and white.any()  # agent reply, time-out message, participant line
    typing = Dashboard(chat=True).chat_panel(state, img.shape[1], "how are")
    assert not np.array_equal(typing, panel)
