"""Shared test fixtures: seeded RNGs, paths to real sample footage (installed by .ci/run from opencv-doc)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _sample(name: str) -> Path:
    path = OPENCV_DATA / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} missing: .ci/run must `apt-get install opencv-doc`")
        pytest.skip(f"{path} missing (apt-get install opencv-doc)")
    return path


@pytest.fixture
def vtest_path() -> Path:
    return _sample("vtest.avi")


@pytest.fixture
def messi_path() -> Path:
    return _sample("messi5.jpg")


@pytest.fixture
def basketball_path() -> Path:
    return _sample("basketball1.png")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _torch_one_thread():
    """One intra-op torch thread for tests that use torch: on 2 cores OpenMP oversubscription is very slow."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
