"""Onset scoring of detected human events against ground truth: precision, recall and F1 within a tolerance."""
from __future__ import annotations

from dataclasses import dataclass

from perception.types import HumanEvent


@dataclass(frozen=True)
class OnsetScore:
    """Matches of detected onsets to true onsets of one kind (each truth matched at most once)."""

    kind: str
    true_positives: int
    false_positives: int
    false_negatives: int
    mean_abs_error_s: float  # over matched pairs; NaN when none matched

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positives + self.false_negatives
        return self.true_positives / real if real else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def detected_onsets(events: list[HumanEvent], kind: str) -> list[float]:
    """Onsets of the detection reports (complete=False) of one kind: each event counted once."""
    return sorted(e.t_onset for e in events if e.kind == kind and not e.complete)


def score_onsets(detected: list[float], truth: list[float], kind: str = "", tolerance_s: float = 0.2) -> OnsetScore:
    """Greedy one-to-one matching of onsets, closest pairs first, within +-tolerance_s."""
    pairs = sorted(
        (abs(d - g), i, j) for i, d in enumerate(detected) for j, g in enumerate(truth) if abs(d - g) <= tolerance_s
    )
    used_d: set[int] = set()
    used_g: set[int] = set()
    errors: list[float] = []
    for err, i, j in pairs:
        if i in used_d or j in used_g:
            continue
        used_d.add(i)
        used_g.add(j)
        errors.append(err)
    tp = len(errors)
    mae = sum(errors) / tp if tp else float("nan")
    return OnsetScore(kind, tp, len(detected) - tp, len(truth) - tp, mae)
