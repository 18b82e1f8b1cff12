"""Statistical validation of the elicitation test on the fast event-level simulator: the false-positive rate over
null studies (no contingency anywhere) against its binomial interval, and power over N for planted-effect cohorts."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from experiments.analysis.elicitation import elicitation, group_elicitation
from experiments.eventsim import AGENT_CLASSES, simulate_trial
from experiments.vp_config import Contingency, VirtualParticipantConfig


@dataclass(frozen=True)
class NullResult:
    studies: int
    alpha: float
    group_rejections: int
    group_interval: tuple[int, int]  # central 95% interval of Binomial(studies, alpha)
    trial_tests: int
    trial_rejections: int
    trial_interval: tuple[int, int]

    @property
    def group_rate(self) -> float:
        return self.group_rejections / self.studies

    @property
    def trial_rate(self) -> float:
        return self.trial_rejections / self.trial_tests

    @property
    def within_interval(self) -> bool:
        return (self.group_interval[0] <= self.group_rejections <= self.group_interval[1]
                and self.trial_interval[0] <= self.trial_rejections <= self.trial_interval[1])


def _participant(rng: np.random.Generator, p_answer: float) -> VirtualParticipantConfig:
    """A participant with random base rates whose answer probability to every agent class is p_answer."""
    cfg = VirtualParticipantConfig(nod_rate=float(rng.uniform(2, 4.5)), gesture_rate=float(rng.uniform(0.8, 2.2)),
                                   engagement_initial=0.7, engagement_baseline=0.7, engagement_gain=0.0)
    cfg.contingencies = {c: Contingency(p_answer, float(rng.uniform(0.8, 1.6)), 0.4, "nod") for c in AGENT_CLASSES}
    return cfg


def _study_p(n: int, p_answer: float, rng: np.random.Generator, duration: float, n_surrogates: int,
             policy: str) -> tuple[float, list[float]]:
    res = []
    for _ in range(n):
        tr = simulate_trial(policy, _participant(rng, p_answer), duration, rng, motion=False)
        res.append(elicitation(tr.agent_t, tr.human_t, duration, n_surrogates=n_surrogates, rng=rng))
    return group_elicitation(res).p, [r.p for r in res if r.n_agent > 0]


def null_false_positive_rate(studies: int = 200, n: int = 12, alpha: float = 0.05, duration: float = 180.0,
                             n_surrogates: int = 1000, seed: int = 0) -> NullResult:
    """Null studies: non-contingent (random) agent, participants who never answer it."""
    rng = np.random.default_rng(seed)
    g = 0
    trial_p: list[float] = []
    for _ in range(studies):
        p, ps = _study_p(n, 0.0, rng, duration, n_surrogates, "random")
        g += p <= alpha
        trial_p += ps
    t = int(np.sum(np.asarray(trial_p) <= alpha))
    gi = tuple(int(x) for x in stats.binom.interval(0.95, studies, alpha))
    ti = tuple(int(x) for x in stats.binom.interval(0.95, len(trial_p), alpha))
    return NullResult(studies, alpha, int(g), gi, len(trial_p), t, ti)


def power_curve(ns: list[int], p_answer: float, studies: int = 100, alpha: float = 0.05, duration: float = 180.0,
                n_surrogates: int = 1000, seed: int = 1) -> list[tuple[int, float, tuple[float, float]]]:
    """(N, power, Clopper-Pearson 95% CI) of the group elicitation test for participants answering every agent
    gesture with probability p_answer (planted effect), random agent."""
    rng = np.random.default_rng(seed)
    out = []
    for n in ns:
        k = sum(_study_p(n, p_answer, rng, duration, n_surrogates, "random")[0] <= alpha for _ in range(studies))
        ci = stats.binomtest(int(k), studies).proportion_ci(0.95)
        out.append((n, k / studies, (float(ci.low), float(ci.high))))
    return out


@dataclass(frozen=True)
class ComparisonPower:
    """Power of the within-subject Wilcoxon comparison of two conditions at N participants from a cohort."""

    n: int
    studies: int
    elicitation: float
    questionnaire: float


def comparison_power(ns: list[int], cohort, cond_a: str = "fep", cond_b: str = "random", studies: int = 100,
                     alpha: float = 0.05, duration: float = 180.0, seed: int = 2) -> list[ComparisonPower]:
    """Share of simulated studies in which the Wilcoxon signed-rank test (two-sided) finds cond_a != cond_b, for the
    elicitation proportion and for a 4-item 7-point 'feeling of interacting' score answered by the cohort's model."""
    from experiments.analysis.elicitation import hit_proportion
    from experiments.analysis.group_tests import wilcoxon_r
    from experiments.cohort import answer_questionnaire
    from experiments.protocol import Item, QuestionnaireBlock

    block = QuestionnaireBlock("interaction", "likert", (1, 7), tuple(Item(f"i{k}", text="x") for k in range(4)))
    rng = np.random.default_rng(seed)
    out = []
    for n in ns:
        hits_e = hits_q = 0
        for s in range(studies):
            el = np.full((n, 2), np.nan)
            q = np.full((n, 2), np.nan)
            for i in range(n):
                cfg = cohort.sample(s * 1000 + i)
                offset = float(rng.normal(0, cohort.questionnaire.participant_sd))
                for j, cond in enumerate((cond_a, cond_b)):
                    tr = simulate_trial(cond, cfg, duration, rng, motion=False)
                    el[i, j] = hit_proportion(tr.agent_t, tr.human_t) if tr.agent_t.size else np.nan
                    answered = float(tr.human_answer.sum()) / max(1, tr.agent_t.size)
                    ans = answer_questionnaire(block, cohort.questionnaire, tr.experienced_contingency, answered,
                                               offset, rng)
                    q[i, j] = float(np.mean(list(ans.values())))
            hits_e += wilcoxon_r(el[:, 0], el[:, 1]).p <= alpha
            hits_q += wilcoxon_r(q[:, 0], q[:, 1]).p <= alpha
        out.append(ComparisonPower(n, studies, hits_e / studies, hits_q / studies))
    return out
