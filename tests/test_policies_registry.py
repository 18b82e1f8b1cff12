"""Policies are selectable by name: built-ins, `module:Class`, and a third-party package's entry point."""
from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli import main
from fep_motion.policies import BUILTIN_POLICIES, MotionPolicy, PolicyError, available_policies, make_policy
from perception.types import Observation


def test_builtins_construct_and_step():
    for name in ("fep", "random", "mimic", "reactive", "idle"):
        pol = make_policy(name)
        assert isinstance(pol, MotionPolicy) and pol.name == name
        pol.reset(0)
        for i in range(30):
            pol.step(Observation.missing(i / 30), i / 30)


def test_unknown_policy_names_the_choices():
    with pytest.raises(PolicyError, match="unknown policy 'nope'.*fep"):
        make_policy("nope")
    with pytest.raises(PolicyError, match="cannot import module"):
        make_policy("no_such_module_xyz:Thing")
    with pytest.raises(PolicyError, match="bad parameters"):
        make_policy("random", speed=3)
    with pytest.raises(PolicyError, match=r"policy 'fep': .*\(with overrides\): gamma: must be a number"):
        make_policy("fep", gamma="high")
    with pytest.raises(PolicyError, match="policy 'fep': .*horizn: is not a known field"):
        make_policy("fep", horizn=3)


def test_module_class_spec():
    pol = make_policy("fep_motion.policies.idle:IdlePolicy")
    assert pol.name == "idle"


def test_cli_lists_policies_and_fails_cleanly(capsys):
    assert main(["policies"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in BUILTIN_POLICIES)


def test_entry_point_policy_from_an_installed_package(tmp_path: Path, monkeypatch):
    """A tiny package declaring `[project.entry-points."fep_motion.policies"] waver = ...`, pip-installed into a
    temporary target directory, becomes selectable by name."""
    src = tmp_path / "src"
    (src / "waver_policy").mkdir(parents=True)
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "waver-policy"
        version = "0.0.1"
        [project.entry-points."fep_motion.policies"]
        waver = "waver_policy:Waver"
        [tool.setuptools]
        packages = ["waver_policy"]
    """))
    (src / "waver_policy" / "__init__.py").write_text(textwrap.dedent('''
        from fep_motion.policies.base import MotionPolicy
        from sampling.primitives.base import MotionCommand

        class Waver(MotionPolicy):
            """Waves at every frame the body is free."""
            name = "waver"

            def _act(self, observation, now):
                return None if self.body_busy else MotionCommand("wave", {}, issued_at=now)
    '''))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(target), str(src)], capture_output=True, text=True,
                       check=False)
    if r.returncode != 0 and "setuptools" in r.stderr.lower() and "no module named" in r.stderr.lower():
        pytest.skip("setuptools is not installed in this environment (needed to build the tiny package)")
    assert r.returncode == 0, r.stderr
    assert "waver" not in available_policies()
    monkeypatch.syspath_prepend(str(target))
    importlib.invalidate_caches()
    assert available_policies()["waver"] == "waver_policy:Waver"
    pol = make_policy("waver")
    pol.reset(0)
    cmd = pol.step(Observation.missing(0.0), 0.0)
    assert cmd is not None and cmd.primitive == "wave" and cmd.source == "waver"
    assert pol.step(Observation.missing(0.1), 0.1) is None  # busy performing the wave
