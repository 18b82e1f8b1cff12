"""Perception YAML config: overrides reach the dataclasses; bad files and fields give errors naming them."""
from __future__ import annotations

import pytest

from cli import main
from perception.config import load_config
from perception.errors import PerceptionError


def test_overrides_and_defaults(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "filter: {landmarks: {beta: 10}}\nevents:\n  nod: {min_amplitude: 0.08}\n  gesture: {on_speed: 2}\n")
    cfg = load_config(path)
    assert cfg.filter.landmarks.beta == 10.0 and cfg.filter.landmarks.min_cutoff == 0.1
    assert cfg.events.nod.min_amplitude == 0.08 and cfg.events.nod.min_swings == 2
    assert cfg.events.gesture.on_speed == 2.0 and cfg.features.head_source == "image"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("events: {nod: {min_amplitud: 0.1}}", ":1: events.nod.min_amplitud: is not a known field"),
        ("events: {nod: {min_swings: two}}", "events.nod.min_swings"),
        ("events: {nod: {min_swings: 1.5}}", "events.nod.min_swings: must be a whole number (got 1.5)"),
        ("filter: {landmarks: {min_cutoff: -1}}", "min_cutoff"),
        ("events: {gesture: {on_speed: 0.1}}", "off_speed"),
        ("features: {head_source: 3}", "features.head_source"),
        ("filter: [1, 2]", ":1: filter: must be a mapping (got list)"),
        ("events: {nod: {min_amplitude: 0.1}\n", "not valid YAML"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PerceptionError) as err:
        load_config(path)
    assert needle in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_cli_bad_config_exits_2_naming_the_field(tmp_path, messi_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("features: {min_visibility: 7}\n")
    rc = main(["perceive", str(messi_path), "--out", str(tmp_path / "f.csv"), "--config", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "min_visibility" in err[0] and str(path) in err[0]
