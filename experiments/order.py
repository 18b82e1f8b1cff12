"""Counterbalanced within-subject condition orders: balanced Latin square, seeded random, or fixed."""
from __future__ import annotations

import numpy as np

from experiments.errors import ExperimentError
from experiments.protocol import Protocol


def williams_square(n: int) -> list[list[int]]:
    """Balanced Latin square (Williams 1949, Aust. J. Sci. Res. A 2:149): every condition appears once per position
    and, across rows, immediately follows every other condition equally often. Odd n needs 2n rows (the square plus
    its mirror image)."""
    if n < 1:
        raise ExperimentError(f"a Latin square needs at least one condition, got {n}")
    first, lo, hi = [0], 1, n - 1
    for j in range(1, n):  # 0, 1, n-1, 2, n-2, ...
        if j % 2 == 1:
            first.append(lo)
            lo += 1
        else:
            first.append(hi)
            hi -= 1
    rows = [[(c + r) % n for c in first] for r in range(n)]
    if n % 2 == 1 and n > 1:
        rows += [list(reversed(row)) for row in rows]
    return rows


def condition_order(protocol: Protocol, participant_index: int) -> list[str]:
    """The condition ids in the order participant `participant_index` (0-based) runs them."""
    if participant_index < 0:
        raise ExperimentError(f"participant index must be >= 0, got {participant_index}")
    ids = [c.id for c in protocol.conditions]
    method = protocol.order.method
    if method == "fixed":
        return ids
    if method == "latin_square":
        rows = williams_square(len(ids))
        return [ids[k] for k in rows[participant_index % len(rows)]]
    if method == "random":
        rng = np.random.default_rng([protocol.order.seed, participant_index])
        return [ids[k] for k in rng.permutation(len(ids))]
    raise ExperimentError(f"order.method '{method}' is unknown: use latin_square, random or fixed")
