"""Event rates: onsets per minute of trial time."""
from __future__ import annotations

import numpy as np


def rate_per_minute(onsets: np.ndarray, duration_s: float) -> float:
    """Number of onsets within [0, duration] divided by the duration in minutes."""
    if duration_s <= 0:
        raise ValueError(f"duration must be positive, got {duration_s}")
    o = np.asarray(onsets, dtype=float)
    o = o[np.isfinite(o) & (o >= 0) & (o <= duration_s)]
    return float(o.size) / (duration_s / 60.0)
