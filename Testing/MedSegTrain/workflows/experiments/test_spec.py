"""Spec validation: bad key paths, unknown arms, wrong types and metrics name the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.workflows.experiments.spec import arm_labels, list_specs, load_spec


def _error(path: Path) -> str:
    with pytest.raises(MedSegError) as info:
        load_spec(path)
    return str(info.value)


def test_bad_key_path_names_file_and_field(tmp_path: Path, tiny: Any) -> None:
    path = tiny.write_spec(tmp_path / "s.yaml",
                           factors=[{"name": "lr", "key": "optimizer.lrr", "values": [0.1]}])
    message = _error(path)
    assert str(path) in message and "factors[0]" in message and "optimizer.lrr" in message
    assert "did you mean 'lr'" in message


def test_unknown_arm_in_statistics_and_published(tmp_path: Path, tiny: Any) -> None:
    path = tiny.write_spec(tmp_path / "s.yaml", statistics={"reference": "lr=0.5"})
    message = _error(path)
    assert str(path) in message and "statistics.reference" in message and "lr=0.001, lr=0.01" in message
    path = tiny.write_spec(tmp_path / "p.yaml", published=[
        {"claim": "c", "source": "s", "arm": "lr=0.01", "versus": "lr=1"}])
    assert "published[0].versus" in _error(path)


def test_wrong_types(tmp_path: Path, tiny: Any) -> None:
    path = tiny.write_spec(tmp_path / "s.yaml",
                           factors=[{"name": "lr", "key": "optimizer.lr", "values": [0.1, "fast"]}])
    message = _error(path)
    assert str(path) in message and "factors[0] arm 'lr=fast'" in message and "must be a number" in message
    assert "field 'seeds'" in _error(tiny.write_spec(tmp_path / "t.yaml", seeds=[0, "one"]))
    assert "field 'budget'" in _error(tiny.write_spec(tmp_path / "u.yaml", budget={"hours": 1}))
    assert "inference.tta" in _error(tiny.write_spec(tmp_path / "v.yaml", factors=[
        {"name": "tta", "key": "inference.tta", "values": ["many"]}]))


def test_metric_the_evaluation_module_cannot_produce(tmp_path: Path, tiny: Any) -> None:
    message = _error(tiny.write_spec(tmp_path / "s.yaml", metrics=["dice", "sharpness"]))
    assert "field 'metrics'" in message and "'sharpness'" in message and "hd95" in message


def test_defaults_and_labels(tmp_path: Path, tiny: Any) -> None:
    spec = load_spec(tiny.write_spec(tmp_path / "s.yaml", folds=3, factors=[
        {"name": "lr", "key": "optimizer.lr", "values": [0.001, 0.01]},
        {"name": "loss", "arms": {"dice": {"loss.name": "dice"}, "focal": {"loss.name": "focal"}}}]))
    assert spec["folds"] == [0, 1, 2]
    assert spec["statistics"] == {"design": "paired_case", "reference": "lr=0.001, dice",
                                  "correction": "holm", "metric": "dice"}
    assert arm_labels(spec["factors"]) == ["lr=0.001, dice", "lr=0.001, focal",
                                           "lr=0.01, dice", "lr=0.01, focal"]
    assert [f["stage"] for f in spec["factors"]] == ["train", "train"]


@pytest.mark.parametrize("name", list_specs())
def test_every_shipped_spec_validates(name: str) -> None:
    spec = load_spec(name)
    assert spec["name"] == name and spec["published"], name
    assert all(claim["source"] for claim in spec["published"])


def test_shipped_specs_are_the_six_studies() -> None:
    assert list_specs() == ["loss_comparison", "mixup_alpha_sweep", "mixup_cv", "robustness_cv",
                            "transfer_grid", "tta_ensemble_ablation"]


def test_nsd_needs_its_tolerance_and_a_tolerance_needs_nsd(tmp_path: Path, tiny: Any) -> None:
    with_nsd = ["dice", "nsd"]
    assert "field 'nsd_tolerance'" in _error(tiny.write_spec(tmp_path / "a.yaml", metrics=with_nsd))
    assert "not among the metrics" in _error(tiny.write_spec(tmp_path / "b.yaml", nsd_tolerance=1.0))
    assert "positive distance" in _error(tiny.write_spec(tmp_path / "c.yaml", metrics=with_nsd,
                                                         nsd_tolerance=-2))
    spec = load_spec(tiny.write_spec(tmp_path / "d.yaml", metrics=with_nsd, nsd_tolerance=2))
    assert spec["nsd_tolerance"] == 2.0 and spec["metrics"] == with_nsd
