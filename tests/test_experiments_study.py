"""End to end: simulate a study into the store, analyze it, report it (opened in headless Chromium when installed),
and resume an interrupted participant at the next uncompleted trial."""
from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from cli import main
from experiments.protocol import load_protocol
from experiments.runner import run_participant

ROOT = Path(__file__).resolve().parents[1]
HORIBE = ROOT / "examples/protocols/horibe2022.yaml"
TWO = ROOT / "examples/protocols/horibe2022_two_conditions.yaml"


@pytest.fixture(scope="module")
def horibe_study(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("study")
    db = d / "study.db"
    assert main(["experiment", "simulate", str(HORIBE), "--n", "24", "--store", str(db)]) == 0
    assert main(["experiment", "analyze", str(db), "--out", str(d / "out"), "--surrogates", "300"]) == 0
    return db, d / "out"


def test_simulated_study_is_counterbalanced_and_complete(horibe_study) -> None:
    db, _ = horibe_study
    c = sqlite3.connect(db)
    assert c.execute("SELECT COUNT(*) FROM trials WHERE status = 'completed'").fetchone()[0] == 72
    firsts = [r[0] for r in c.execute("SELECT condition_id FROM trials WHERE trial_index = 0")]
    assert {k: firsts.count(k) for k in set(firsts)} == {"fep": 8, "reactive": 8, "random": 8}
    n_items = 4 + 6 + 5
    assert c.execute("SELECT COUNT(*) FROM questionnaire_responses").fetchone()[0] == 72 * n_items


def test_metrics_csv_and_report_state_the_comparisons(horibe_study) -> None:
    _, out = horibe_study
    with open(out / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 72 and {r["condition"] for r in rows} == {"fep", "reactive", "random"}
    for col in ("human_rate_per_min", "elicitation", "elicitation_z", "elicitation_p", "wcc_peak_z",
                "granger_p_agent_to_human", "granger_p_human_to_agent", "q_interaction", "q_animacy", "q_likeability"):
        assert col in rows[0]
    html = (out / "report.html").read_text()
    assert "Friedman chi2(2)" in html and "Kendall&#x27;s W" in html and "p_Holm" in html
    assert html.count("<img") == 4
    for f in ("boxplots.png", "peri_event.png", "learning_curve.png", "wcc_heatmaps.png"):
        assert (out / f).stat().st_size > 5000
    methods = html.split('id="methods">')[1]
    for param in ("0.5-3 s", "300 surrogates", "window 30 s", "step 10 s", "+/-5 s", "2 Hz", "Holm"):
        assert param in methods
    # planted contingency: FEP and reactive elicit more than random and are rated higher on "interacting"
    assert "fep vs random: Z = " in html


def test_two_condition_study_uses_wilcoxon_r(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(TWO), "--n", "10", "--store", str(db)]) == 0
    assert main(["experiment", "analyze", str(db), "--out", str(tmp_path / "o"), "--surrogates", "200"]) == 0
    out = capsys.readouterr().out
    assert "Wilcoxon signed-rank fep vs random, N = " in out and ", r = " in out
    assert main(["experiment", "report", str(db), "--out", str(tmp_path / "o"), "--surrogates", "50"]) == 0
    assert (tmp_path / "o" / "metrics.csv").exists()  # report keeps analyze's csv
    assert main(["experiment", "report", str(db), "--out", str(tmp_path / "r"), "--surrogates", "50"]) == 0
    assert (tmp_path / "r" / "report.html").exists() and not (tmp_path / "r" / "metrics.csv").exists()


def test_simulate_resumes_without_redoing_completed_trials(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(TWO), "--n", "2", "--store", str(db)]) == 0
    c = sqlite3.connect(db)
    c.execute("UPDATE trials SET status = 'running' WHERE participant_id = 'V002' AND trial_index = 1")
    c.commit()
    capsys.readouterr()
    assert main(["experiment", "simulate", str(TWO), "--n", "2", "--store", str(db)]) == 0
    assert "1 trials run, 3 already completed" in capsys.readouterr().out


def test_interrupted_run_resumes_at_next_uncompleted_trial(tmp_path: Path) -> None:
    p = load_protocol(HORIBE)
    db = tmp_path / "s.db"
    n = sum(len(b.items) for b in p.questionnaires)
    one_trial = "\n".join(["4"] * n) + "\n"
    with pytest.raises(Exception, match="input ended"):  # participant leaves during the 2nd questionnaire
        run_participant(p, db, "P01", virtual="default", engine="events", breaks=False,
                        stdin=io.StringIO(one_trial + "4\n"), stdout=io.StringIO())
    c = sqlite3.connect(db)
    st = [r[0] for r in c.execute("SELECT status FROM trials WHERE participant_id='P01' ORDER BY trial_index")]
    assert st == ["completed", "awaiting_questionnaire", "pending"]
    sessions_before = c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    out = io.StringIO()
    s = run_participant(p, db, "P01", virtual="default", engine="events", breaks=False,
                        stdin=io.StringIO(one_trial * 2), stdout=out)
    assert (s.trials_run, s.trials_skipped) == (2, 1)
    assert "Trial 1/3" not in out.getvalue() and "Trial 2/3" not in out.getvalue() and "Trial 3/3" in out.getvalue()
    assert c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == sessions_before + 1  # only trial 3 ran
    order = [r[0] for r in c.execute("SELECT condition_id FROM trials WHERE participant_id='P01' ORDER BY trial_index")]
    assert order == ["fep", "reactive", "random"]  # participant index 0 -> first Williams row


def test_analyze_missing_db_is_one_line_exit2(tmp_path: Path, capsys) -> None:
    assert main(["experiment", "analyze", str(tmp_path / "none.db"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "none.db" in err


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.integration
def test_report_opens_in_headless_chromium(horibe_study, tmp_path: Path) -> None:
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    _, out = horibe_study
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
           (out / "report.html").as_uri()]
    dom = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<img") == 4
    assert "boxplots.png" in dom and "learning_curve.png" in dom and "wcc_heatmaps.png" in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*cmd[:-2], f"--screenshot={shot}", "--window-size=1200,3000", (out / "report.html").as_uri()],
                   check=False, capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20000


def test_after_all_trials_questionnaire_is_asked_once(tmp_path: Path) -> None:
    proto = tmp_path / "p.yaml"
    proto.write_text(TWO.read_text().replace("break_s: 30", "break_s: 30\nadminister: after_all_trials"))
    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(proto), "--n", "3", "--store", str(db)]) == 0
    c = sqlite3.connect(db)
    rows = c.execute("SELECT participant_id, trial_index, condition_id, COUNT(*) FROM questionnaire_responses "
                     "GROUP BY 1, 2, 3").fetchall()
    assert rows == [(f"V00{i}", -1, "all", 10) for i in (1, 2, 3)]


def test_bad_study_inputs_are_one_line_errors(tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    before = junk.read_bytes()
    assert main(["experiment", "analyze", str(junk), "--out", str(tmp_path / "o")]) == 2
    assert main(["experiment", "simulate", str(TWO), "--n", "1", "--store", str(junk)]) == 2
    assert junk.read_bytes() == before
    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(TWO), "--n", "1", "--store", str(db)]) == 0
    assert main(["experiment", "simulate", str(HORIBE), "--n", "1", "--store", str(db)]) == 2  # other protocol
    assert main(["experiment", "simulate", str(TWO), "--n", "1", "--store", str(db),
                 "--cohort", str(tmp_path / "none.yaml")]) == 2
    assert main(["experiment", "run", str(TWO), "--participant", "P1", "--virtual", str(tmp_path / "vp.yaml"),
                 "--store", str(db)]) == 2
    assert main(["experiment", "simulate", str(TWO), "--n", "0", "--store", str(db)]) == 2
    errs = [e for e in capsys.readouterr().err.splitlines() if "error:" in e]
    assert len(errs) == 6 and all("Traceback" not in e for e in errs)
    assert "junk.db" in errs[0] and "belongs to protocol 'horibe2022_fep_vs_random'" in errs[2]
    assert "none.yaml not found" in errs[3] and "vp.yaml" in errs[4] and "--n must be >= 1" in errs[5]


def test_nan_motion_energy_is_interpolated_not_fatal(tmp_path: Path) -> None:
    import numpy as np

    from experiments import study_store as ss
    from experiments.analysis.study import analyze_study

    db = tmp_path / "s.db"
    assert main(["experiment", "simulate", str(TWO), "--n", "3", "--store", str(db)]) == 0
    store = ss.open_study(db)
    fs, a, h = ss.load_signals(store, 1)
    h[100:140] = np.nan
    ss.save_signals(store, 1, fs, a, h)
    fs, a, h = ss.load_signals(store, 2)
    ss.save_signals(store, 2, fs, a, np.full_like(h, np.nan))  # nothing usable: metrics missing, not a crash
    store.close()
    res = analyze_study(str(db))
    by_sid = {t.session_id: t.values for t in res.trials}
    assert np.isfinite(by_sid[1]["wcc_peak_z"]) and "wcc_peak_z" not in by_sid[2]


def test_study_database_opens_in_commands_that_never_import_experiments(horibe_study, tmp_path: Path) -> None:
    """`fep-motion export` in a fresh process opens a study: the command registers every layer's tables first."""
    db, _ = horibe_study
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "cli", "export", str(db), "--format", "csv", "--out", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "x" / "trials.csv") as fh:
        assert sum(1 for _ in fh) == 1 + 72
