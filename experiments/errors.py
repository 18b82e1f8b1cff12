"""ExperimentError: bad protocol/cohort/study input, reported by the CLI as one line with exit code 2."""
from __future__ import annotations


class ExperimentError(ValueError):
    """A user-facing experiment error; the message names the file/field (and YAML line) and the fix."""
