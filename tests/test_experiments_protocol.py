"""Protocol schema: shipped protocols load; malformed ones give a one-line error, exit 2, and leave the DB untouched;
counterbalancing is a balanced Latin square."""
from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli import main
from experiments.errors import ExperimentError
from experiments.order import condition_order, williams_square
from experiments.protocol import load_protocol, parse_protocol

ROOT = Path(__file__).resolve().parents[1]
HORIBE = ROOT / "examples/protocols/horibe2022.yaml"
TWO = ROOT / "examples/protocols/horibe2022_two_conditions.yaml"

GOOD = """name: t
trial_duration_s: 10
conditions:
  - {id: a, policy: fep}
  - {id: b, policy: random}
questionnaires:
  - id: q
    kind: likert
    scale: [1, 7]
    items:
      - {id: i1, text: "x"}
"""

# (protocol text, substring the error must contain: the field, and its line)
MALFORMED = [
    ("name: t\nconditions: [ {id: a, policy: fep}\n", "bad.yaml:3: not valid YAML"),
    ("", "empty"),
    ("- just\n- a list\n", "must be a mapping"),
    (GOOD.replace("policy: random", "policy: telepathy"),
     ":5: conditions[1].policy: unknown policy 'telepathy'; use one of"),
    (GOOD.replace("trial_duration_s: 10", "trial_duration_s: -3"),
     ":2: trial_duration_s: must be > 0 (got -3); set a number > 0"),
    (GOOD.replace("trial_duration_s: 10", "trial_duration_s: .nan"),
     ":2: trial_duration_s: must be a finite number (got nan)"),
    (GOOD.replace("    scale: [1, 7]\n", ""), ":7: questionnaires[0].scale: is required; add it"),
    (GOOD.replace("scale: [1, 7]", "scale: [7, 1]"), ":9: questionnaires[0].scale: high (1) must exceed low (7)"),
    (GOOD.replace("kind: likert", "kind: essay"),
     ":8: questionnaires[0].kind: must be one of 'likert' or 'semantic_differential' (got 'essay')"),
    (GOOD.replace("name: t\n", ""), "bad.yaml:1: name: is required; add it"),
    (GOOD.replace("{id: b, policy: random}", "{id: a, policy: random}"),
     ":5: conditions[1].id: duplicate condition id 'a'"),
    (GOOD + "order: {method: zigzag}\n",
     ":12: order.method: must be one of 'latin_square', 'random' or 'fixed' (got 'zigzag')"),
    (GOOD + "break_s: -1\n", ":12: break_s: must be >= 0 (got -1); set a number >= 0"),
    (GOOD + "conditons: []\n", ":12: conditons: is not a known field; use one of name, "),
    (GOOD.replace('{id: i1, text: "x"}', "{id: i1}"),
     ":11: questionnaires[0].items[0].text: is required for a likert item"),
    (GOOD.replace("conditions:\n  - {id: a, policy: fep}\n  - {id: b, policy: random}", "conditions: []"),
     ":3: conditions: must have at least 1 item (got 0)"),
]


def test_shipped_protocols_load() -> None:
    p = load_protocol(HORIBE)
    assert [c.policy for c in p.conditions] == ["fep", "reactive", "random"]
    assert p.trial_duration_s == 180 and p.order.method == "latin_square"
    kinds = {b.id: (b.kind, b.scale) for b in p.questionnaires}
    assert kinds == {"interaction": ("likert", (1, 7)), "animacy": ("semantic_differential", (1, 5)),
                     "likeability": ("semantic_differential", (1, 5))}
    assert len(load_protocol(TWO).conditions) == 2


@pytest.mark.parametrize("text,expect", MALFORMED)
def test_malformed_protocol_error_names_field_and_line(text: str, expect: str) -> None:
    with pytest.raises(ExperimentError) as info:
        parse_protocol(text, "bad.yaml")
    msg = str(info.value)
    assert expect in msg and "\n" not in msg


def _digest(path: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))).hexdigest()


@pytest.mark.parametrize("text,expect", MALFORMED)
def test_malformed_protocol_cli_exit2_db_untouched(tmp_path: Path, capsys, text: str, expect: str) -> None:
    db = tmp_path / "study.db"
    assert main(["experiment", "simulate", str(TWO), "--n", "1", "--store", str(db)]) == 0
    before = _digest(db)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    capsys.readouterr()
    for argv in (["experiment", "simulate", str(bad), "--n", "2", "--store", str(db)],
                 ["experiment", "run", str(bad), "--participant", "P09", "--virtual", "default", "--store", str(db)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err and "bad.yaml" in err
        assert _digest(db) == before


def test_missing_protocol_file_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["experiment", "simulate", str(tmp_path / "nope.yaml"), "--n", "1",
                 "--store", str(tmp_path / "s.db")]) == 2
    assert "nope.yaml not found" in capsys.readouterr().err
    assert not (tmp_path / "s.db").exists()


@given(st.integers(min_value=2, max_value=9))
@settings(max_examples=8, deadline=None)
def test_williams_square_is_balanced(n: int) -> None:
    rows = williams_square(n)
    assert len(rows) == (n if n % 2 == 0 else 2 * n)
    for row in rows:
        assert sorted(row) == list(range(n))
    for pos in range(n):  # each condition equally often in each position
        counts = [sum(r[pos] == c for r in rows) for c in range(n)]
        assert len(set(counts)) == 1
    follows = {}
    for r in rows:  # first-order carry-over balanced: every ordered pair adjacent equally often
        for a, b in itertools.pairwise(r):
            follows[(a, b)] = follows.get((a, b), 0) + 1
    assert len(follows) == n * (n - 1) and len(set(follows.values())) == 1


def test_orders_depend_on_index_and_seed() -> None:
    p = load_protocol(HORIBE)
    orders = [tuple(condition_order(p, i)) for i in range(6)]
    assert len(set(orders)) == 6  # 3 conditions -> 6 Williams rows
    assert condition_order(p, 6) == condition_order(p, 0)
    r = parse_protocol(GOOD + "order: {method: random, seed: 5}\n")
    assert condition_order(r, 3) == condition_order(r, 3)
    fixed = parse_protocol(GOOD + "order: fixed\n")
    assert all(condition_order(fixed, i) == ["a", "b"] for i in range(4))
