"""Study report: metrics.csv (one row per participant x condition), matplotlib figures (box plots, peri-event
histograms, WCC heat maps) and report.html with the group statistics and a methods paragraph stating every parameter."""
from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.analysis.backchannel import share_curves
from experiments.analysis.learning import DEFAULT_CURVE_WINDOW_S, learning_curves
from experiments.analysis.study import METRICS, StudyAnalysis, peri_event
from experiments.errors import ExperimentError

LABELS = {
    "human_rate_per_min": "Human gesture rate (/min)", "agent_rate_per_min": "Agent gesture rate (/min)",
    "elicitation": "Elicitation P(human onset 0.5-3 s after agent onset)",
    "elicitation_z": "Elicitation z vs surrogates",
    "wcc_peak_z": "WCC peak Fisher z", "wcc_mean_abs_z": "WCC mean |Fisher z|",
    "granger_f_agent_to_human": "Granger F agent -> human", "granger_f_human_to_agent": "Granger F human -> agent",
}


def write_metrics_csv(a: StudyAnalysis, path: Path) -> None:
    """One row per participant x condition with every per-trial metric."""
    keys = sorted({k for t in a.trials for k in t.values})
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["participant", "condition", "trial_index", "session_id", "duration_s", "human_events_source",
                    *keys])
        for t in sorted(a.trials, key=lambda t: (t.participant, t.trial_index)):
            w.writerow([t.participant, t.condition, t.trial_index, t.session_id, t.duration_s, t.human_source,
                        *[_fmt(t.values.get(k, float("nan"))) for k in keys]])


def _fmt(v: float) -> str:
    return "" if v is None or not np.isfinite(v) else f"{v:.6g}"


def _figures(a: StudyAnalysis, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: list[tuple[str, str]] = []
    metrics = [m for m in ("human_rate_per_min", "elicitation", "elicitation_z", "wcc_peak_z")
               if np.isfinite(a.matrix(m)).any()] + [f"q_{s}" for s in a.scales]
    ncol = 3
    nrow = (len(metrics) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow), squeeze=False)
    for ax, m in zip(axes.ravel(), metrics):
        mat = a.matrix(m)
        data = [col[np.isfinite(col)] for col in mat.T]
        ax.boxplot(data, tick_labels=a.conditions)
        for j, col in enumerate(data):
            ax.plot(np.full(col.size, j + 1) + np.linspace(-0.12, 0.12, col.size), col, ".", alpha=0.5)
        ax.set_title(LABELS.get(m, m.replace("q_", "Questionnaire: ")), fontsize=9)
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "boxplots.png", dpi=90)
    plt.close(fig)
    figs.append(("boxplots.png", "Per-condition box plots (one dot per participant)"))

    fig, axes = plt.subplots(1, len(a.conditions), figsize=(4.2 * len(a.conditions), 3.2), squeeze=False)
    for ax, c in zip(axes[0], a.conditions):
        edges, rate = peri_event(a, c)
        ax.bar(edges[:-1], rate, width=np.diff(edges), align="edge", color="tab:blue")
        ax.axvspan(*a.params.window, color="tab:orange", alpha=0.2)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"{c}: human onsets around agent onsets", fontsize=9)
        ax.set_xlabel("time from agent onset (s)")
        ax.set_ylabel("onsets / agent onset / s")
    fig.tight_layout()
    fig.savefig(out / "peri_event.png", dpi=90)
    plt.close(fig)
    figs.append(("peri_event.png", "Peri-event histograms (shaded: elicitation window)"))

    curves = study_learning_curves(a)
    _curve_figure(plt, curves, a.conditions, out / "learning_curve.png", "elicitation",
                  "Learning curve: elicitation per window, mean over participants")
    figs.append(("learning_curve.png", ("Learning curve: share of agent onsets answered 0.5-3 s later, per 30 s "
                                        "window of the trial, mean over participants")))

    if any(t.backchannel is not None for t in a.trials):
        figs.append(_backchannel_figure(a, out, plt))

    have = [c for c in a.conditions if any(t.wcc is not None and t.wcc.r.size for t in a.trials if t.condition == c)]
    if have:
        fig, axes = plt.subplots(1, len(have), figsize=(4.2 * len(have), 3.2), squeeze=False)
        for ax, c in zip(axes[0], have):
            rs = [t.wcc for t in a.trials if t.condition == c and t.wcc is not None and t.wcc.r.size]
            nw = min(w.r.shape[0] for w in rs)
            mean_r = np.nanmean(np.stack([w.r[:nw] for w in rs]), axis=0)
            w0 = rs[0]
            im = ax.imshow(mean_r.T, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-0.5, vmax=0.5,
                           extent=[w0.starts_s[0], w0.starts_s[nw - 1] + a.params.wcc_step_s,
                                   w0.lags_s[0], w0.lags_s[-1]])
            ax.set_title(f"{c}: mean WCC (agent -> human)", fontsize=9)
            ax.set_xlabel("window start (s)")
            ax.set_ylabel("lag (s), + = human follows")
            fig.colorbar(im, ax=ax, label="r")
        fig.tight_layout()
        fig.savefig(out / "wcc_heatmaps.png", dpi=90)
        plt.close(fig)
        figs.append(("wcc_heatmaps.png", "Windowed cross-correlation of motion energy, averaged over participants"))
    return figs


def _curve_figure(plt, curves: dict, conditions: Sequence[str], path: Path, ylabel: str, title: str,
                  chance: dict[str, float] | None = None) -> None:
    """One line per condition over its windows (a LearningCurve each), optional dotted chance levels; saved to path."""
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    for c in conditions:
        lc = curves[c]
        if np.isfinite(lc.mean).any():
            line, = ax.plot(lc.starts_s + lc.width_s / 2, lc.mean, "o-", label=c)
            if chance and c in chance:
                ax.axhline(chance[c], color=line.get_color(), ls=":", lw=1)
    ax.set_xlabel(f"time in trial (s), {curves[conditions[0]].width_s:g} s windows")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _backchannel_figure(a: StudyAnalysis, out: Path, plt) -> tuple[str, str]:
    """Learning curve of backchannel placement: share of the agent's nods/tilts that start in the participant's
    pauses per 30 s window, mean over participants, with each condition's chance level (experiments.analysis
    .backchannel)."""
    trials = [(t.condition, t.backchannel) for t in a.trials if t.backchannel is not None]
    curves = share_curves(trials, a.conditions)
    chance = {c: float(np.mean([t.chance for cc, t in trials if cc == c])) for c in a.conditions
              if any(cc == c for cc, _ in trials)}
    _curve_figure(plt, curves, a.conditions, out / "backchannel_curve.png", "share of nods/tilts in pauses",
                  "Backchannel placement per window, mean over participants (dotted: chance)", chance)
    return "backchannel_curve.png", ("Learning curve of backchannel placement: share of the agent's nods and tilts "
                                     "that start in a pause of the participant (in it or <= 0.5 s after the phrase "
                                     "end), per 30 s window, mean over participants; dotted: the share of time the "
                                     "pauses cover (chance)")


def study_learning_curves(a: StudyAnalysis) -> dict:
    """Per-condition learning curves (experiments.analysis.learning) of a study's trials."""
    return learning_curves(((t.condition, t.agent_t, t.human_t, t.duration_s) for t in a.trials), a.conditions,
                           window=a.params.window)


def _p(p: float) -> str:
    return "n/a" if not np.isfinite(p) else ("< .001" if p < 0.001 else f"= {p:.3f}")


def test_sentence(metric: str, t: dict) -> str:
    """A one-line APA-style statement of a metric's group test."""
    name = LABELS.get(metric, metric.replace("q_", "questionnaire scale ").replace("_", " "))
    if "wilcoxon" in t:
        w = t["wilcoxon"]
        return (f"{name}: Wilcoxon signed-rank {w.a} vs {w.b}, N = {w.n}, W+ = {w.w_plus:g}, Z = {w.z:.2f}, "
                f"p {_p(w.p)}, r = {w.r:.2f}.")
    if "friedman" in t:
        f = t["friedman"]
        pairs = "; ".join(f"{w.a} vs {w.b}: Z = {w.z:.2f}, r = {w.r:.2f}, p_Holm {_p(w.p_holm)}" for w in t["pairs"])
        return (f"{name}: Friedman chi2({f.k - 1}) = {f.chi2:.2f}, p {_p(f.p)}, Kendall's W = {f.kendall_w:.2f}, "
                f"N = {f.n}. Pairwise Wilcoxon (Holm): {pairs}.")
    return f"{name}: fewer than two conditions, no test."


def methods_paragraph(a: StudyAnalysis) -> str:
    """Every parameter of the analysis, in prose."""
    p = a.params
    proto = a.protocol
    src = ("detected participant events" if a.human_sources == {"participant"} else
           "the virtual participants' ground-truth events (fast path: no pose detection)"
           if a.human_sources == {"participant_truth"} else "detected events where present, else ground truth")
    test = ("Wilcoxon signed-rank tests (zeros dropped, tie-corrected normal approximation for Z; effect size "
            "r = Z/sqrt(N), N = pairs with a non-zero difference)" if len(a.conditions) == 2 else
            "Friedman tests with Kendall's W = chi2/(N(k-1)), followed by pairwise Wilcoxon signed-rank tests "
            "(r = Z/sqrt(N)) with Holm-corrected p-values")
    return (
        f"Protocol '{proto['name']}': {len(a.conditions)} within-subject conditions "
        f"({', '.join(c['id'] + ' = policy ' + c['policy'] for c in proto['conditions'])}), order "
        f"{proto['order']['method']} (seed {proto['order']['seed']}), trials of {proto['trial_duration_s']:g} s, "
        f"{len(a.participants)} participants, {len(a.trials)} completed trials. Human gesture onsets are {src}. "
        f"Gesture rate is onsets per minute of trial time. Elicitation is the proportion of agent gesture onsets "
        f"followed by at least one human onset {p.window[0]:g}-{p.window[1]:g} s later; it is compared with "
        f"{p.n_surrogates} surrogates that permute the agent's inter-onset intervals (including the gaps to the trial "
        f"start and end), giving z = (observed - surrogate mean)/surrogate SD and a one-sided Monte-Carlo "
        f"p = (1 + #surrogates >= observed)/(1 + {p.n_surrogates}); the group test per condition compares the mean "
        f"observed proportion with the {p.n_surrogates} means of matched surrogates (the surrogates assume the agent's "
        f"timing does not depend on the participant; for contingent agents such as reactive, mimic or fep, an excess "
        f"can also arise from the participant's own rhythm, so read it with the WCC lag and the Granger directions). "
        f"The learning curve is the same proportion over the agent onsets of each {DEFAULT_CURVE_WINDOW_S:g} s window "
        f"of the trial (answers may fall after the window), averaged over participants with an onset in that window. "
        f"Motion energy of agent and "
        f"participant is compared by windowed cross-correlation (window {p.wcc_window_s:g} s, step "
        f"{p.wcc_step_s:g} s, lags +/-{p.wcc_max_lag_s:g} s, positive lag = participant follows agent), taking per "
        f"window the lag of maximal r (peak picking) and averaging Fisher z = atanh(r) over windows. Granger "
        f"causality is tested both ways with the SSR F-test (statsmodels) on series block-averaged to "
        f"{p.granger_fs:g} Hz at lag order {max(1, round(p.granger_lag_s * p.granger_fs))} "
        f"({p.granger_lag_s:g} s). Questionnaire scale scores are item means with reverse-keyed items mirrored. "
        f"Conditions are compared within subject by {test}; alpha = {p.alpha:g}; surrogate seed {p.seed}."
    )


def write_report(a: StudyAnalysis, out_dir: str | Path, metrics_csv: bool = True) -> Path:
    """Write metrics.csv (unless metrics_csv is False), the figures and report.html into out_dir; returns the
    report path."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExperimentError(
            f"--out {out}: cannot create the directory ({exc.strerror}): pass a writable path") from None
    if metrics_csv:
        write_metrics_csv(a, out / "metrics.csv")
    figs = _figures(a, out)
    rows = []
    for c in a.conditions:
        g = a.group_elicitation[c]
        cols = {m: a.matrix(m)[:, a.conditions.index(c)] for m in list(METRICS) + [f"q_{s}" for s in a.scales]}
        means = {m: np.nanmean(col) if np.isfinite(col).any() else float("nan") for m, col in cols.items()}
        rows.append(f"<tr><td>{html.escape(c)}</td><td>{g.n}</td><td>{g.mean_proportion:.3f}</td>"
                    f"<td>{g.mean_surrogate:.3f}</td><td>{g.mean_z:.2f}</td><td>{_p(g.p)}</td>"
                    + "".join(f"<td>{means[m]:.2f}</td>" for m in ("human_rate_per_min", *[f'q_{s}' for s in a.scales]))
                    + "</tr>")
    head = ("<tr><th>condition</th><th>N</th><th>elicitation</th><th>surrogate</th><th>mean z</th><th>group p</th>"
            "<th>gesture rate /min</th>" + "".join(f"<th>{html.escape(s)}</th>" for s in a.scales) + "</tr>")
    tests = "".join(f"<li>{html.escape(test_sentence(m, t))}</li>" for m, t in a.tests.items())
    fig_html = "".join(f'<figure><img src="{f}" alt="{html.escape(cap)}"><figcaption>{html.escape(cap)}</figcaption>'
                       f"</figure>" for f, cap in figs)
    csv_link = ' Per-trial values: <a href="metrics.csv">metrics.csv</a>.' if (out / "metrics.csv").exists() else ""
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(a.protocol['name'])} report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}td,th{{padding:2px 8px;border-bottom:1px solid #ccc}}
img{{max-width:100%}}</style></head><body>
<h1>Study report: {html.escape(a.protocol['name'])}</h1>
<p>{len(a.participants)} participants, conditions: {html.escape(', '.join(a.conditions))}.{csv_link}</p>
<h2>Elicitation and means per condition</h2><table id="summary">{head}{''.join(rows)}</table>
<h2>Condition comparisons</h2><ul id="tests">{tests}</ul>
<h2>Figures</h2>{fig_html}
<h2>Methods</h2><p id="methods">{html.escape(methods_paragraph(a))}</p>
</body></html>"""
    path = out / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
