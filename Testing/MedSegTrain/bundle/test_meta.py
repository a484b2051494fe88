"""The one model.json parser: typed values, a named MedSegError per malformed field, both mode
spellings, and builder -> file -> parser giving back the same BundleMeta."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from MedSegTrain.bundle import BundleMeta, build_meta, load_bundle, parse_meta, read_info, save_bundle
from MedSegTrain.bundle.meta import InferenceSettings, MemberInfo, parse_output
from MedSegTrain.bundle.modes import SLICES2D, SLIDING_WINDOW, WHOLE, inference_mode, patch_mode
from MedSegTrain.errors import MedSegError

ROOT = Path(__file__).resolve().parents[3]
NET_ARGS = {"spatial_dims": 3, "in_channels": 2, "out_channels": 3, "kernel_size": [3, 3, 3]}


def _document() -> dict[str, Any]:
    return {
        "format_version": 1, "name": "tiny", "created": "2026-01-01T00:00:00+00:00",
        "network": {"name": "unet", "args": copy.deepcopy(NET_ARGS)},
        "input": {"channels": ["T1", "T2"], "modality": "MR"},
        "labels": {"background": 0, "organ": 1, "lesion": 2},
        "output": {"activation": "softmax", "regions": None, "region_rebuild": None},
        "preprocessing": {"normalization": "zscore", "window": {"name": "ct-liver", "width": 150}},
        "inference": {"mode": "sliding_window", "patch_size": [8, 16, 16], "overlap": 0.25},
        "training": {"recipe": {"epochs": 2, "optimizer": {"name": "adam"}},
                     "validation_metrics": {"dice": 0.9}},
        "members": [{"weights": "fold0.safetensors", "fold": 0, "validation_metrics": {"dice": 0.91}},
                    {"weights": "fold1.safetensors", "fold": None}],
    }


def test_a_valid_document_parses_to_typed_values() -> None:
    meta = parse_meta(_document(), "b/model.json")
    assert isinstance(meta, BundleMeta) and meta.format_version == 1 and meta.source == "b/model.json"
    assert (meta.name, meta.created, meta.modality) == ("tiny", "2026-01-01T00:00:00+00:00", "MR")
    assert meta.network.name == "unet" and meta.network.spatial_dims == 3 and meta.network.out_channels == 3
    assert meta.network.kwargs() == NET_ARGS
    assert meta.channels == ("T1", "T2")
    assert meta.labels == {"background": 0, "organ": 1, "lesion": 2}
    assert meta.output.activation == "softmax" and meta.output.regions is None
    assert meta.output.channel_names == ["background", "organ", "lesion"]
    assert meta.inference == InferenceSettings(SLIDING_WINDOW, (8, 16, 16), 0.25, 3)
    assert meta.inference.window_size == (8, 16, 16) and meta.inference.patch_mode == "3d"
    assert meta.preprocessing["normalization"] == "zscore" and meta.window_name == "ct-liver"
    assert meta.recipe["optimizer"]["name"] == "adam" and meta.validation_metrics == {"dice": 0.9}
    assert meta.members == (MemberInfo("fold0.safetensors", 0, {"dice": 0.91}),
                            MemberInfo("fold1.safetensors", None, {}))
    assert meta.n_members == 2


def test_the_parsed_metadata_is_frozen() -> None:
    meta = parse_meta(_document())
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        meta.recipe["optimizer"]["name"] = "sgd"  # type: ignore[index]
    with pytest.raises(TypeError):
        meta.network.args["spatial_dims"] = 2  # type: ignore[index]
    args = meta.network.kwargs()
    args["kernel_size"].append(9)
    assert meta.network.kwargs() == NET_ARGS  # kwargs() hands out a fresh copy


def _set(path: str, value: Any):
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if isinstance(target, list) else last] = value
    return change


_DELETE = object()


@pytest.mark.parametrize(("change", "field"), [
    (_set("format_version", "1"), "format_version"),
    (_set("name", _DELETE), "name"),
    (_set("created", 5), "created"),
    (_set("network.name", None), "network.name"),
    (_set("network.args", [1]), "network.args"),
    (_set("network.args.spatial_dims", 4), "network.args.spatial_dims"),
    (_set("input.channels", []), "input.channels"),
    (_set("input.modality", _DELETE), "input.modality"),
    (_set("labels", {"organ": 1}), "labels"),
    (_set("output.activation", "softplus"), "output.activation"),
    (_set("output.regions", {"WT": []}), "output.regions"),
    (_set("output.region_rebuild", {"WT": 1}), "output.region_rebuild"),
    (_set("preprocessing", "zscore"), "preprocessing"),
    (_set("inference.mode", "magic"), "inference.mode"),
    (_set("inference.mode", "slices2d"), "inference.mode"),  # slices2d with a 3D network
    (_set("inference.patch_size", [8, 0, 16]), "inference.patch_size"),
    (_set("inference.patch_size", [16, 16]), "inference.patch_size"),  # sliding windows need 3 sizes
    (_set("inference.overlap", 1.0), "inference.overlap"),
    (_set("training.recipe", _DELETE), "training.recipe"),
    (_set("training.validation_metrics", [0.9]), "training.validation_metrics"),
    (_set("members", []), "members"),
    (_set("members.0.weights", "fold0.pt"), "members[0].weights"),
    (_set("members.1.fold", "1"), "members[1].fold"),
])
def test_each_malformed_field_is_named(change: Any, field: str) -> None:
    document = _document()
    change(document)
    with pytest.raises(MedSegError) as exc:
        parse_meta(document, "b/model.json")
    assert field in str(exc.value) and "b/model.json" in str(exc.value), str(exc.value)


def test_an_inconsistent_output_declaration_is_refused_when_read() -> None:
    document = _document()
    document["output"] = {"activation": "sigmoid", "regions": {"WT": [1, 7]}}
    with pytest.raises(MedSegError, match="undeclared label values"):
        parse_meta(document)


@pytest.mark.parametrize(("stored", "dims", "expected"), [
    ("sliding_window", 3, SLIDING_WINDOW), ("whole", 3, WHOLE), ("slices2d", 2, SLICES2D),
    ("3d", 3, SLIDING_WINDOW), ("2d", 2, SLICES2D),  # the training recipe's patch.mode spelling
    ("sliding_window", 2, SLICES2D),  # a 2D network always runs slice by slice
])
def test_both_mode_spellings_load(stored: str, dims: int, expected: str) -> None:
    document = _document()
    document["network"]["args"]["spatial_dims"] = dims
    document["inference"]["mode"] = stored
    assert parse_meta(document).inference.mode == expected


def test_bundles_written_by_earlier_versions_load() -> None:
    fixture = ROOT / "MedSegMixup" / "Testing" / "Data" / "prostate_tiny"
    info = read_info(fixture)
    assert info.inference.mode == WHOLE and info.inference.patch_mode == "3d"
    assert info == parse_meta(json.loads((fixture / "model.json").read_text()), str(fixture / "model.json"))


def test_the_mode_vocabulary_has_one_translation() -> None:
    assert [inference_mode(m) for m in ("3d", "2d", "whole")] == [SLIDING_WINDOW, SLICES2D, WHOLE]
    assert [patch_mode(m) for m in (SLIDING_WINDOW, WHOLE, SLICES2D, "2d")] == ["3d", "3d", "2d", "2d"]
    with pytest.raises(MedSegError, match="must be one of sliding_window, whole, slices2d"):
        inference_mode("4d")


def test_an_overlap_override_is_checked() -> None:
    settings = parse_meta(_document()).inference
    assert settings.with_overlap(None) is settings and settings.with_overlap(0.75).overlap == 0.75
    with pytest.raises(MedSegError, match=r"overlap must be a number in \[0, 1\)"):
        settings.with_overlap(1.5, "--overlap")


def _built(patch_mode_name: str = "3d", regions: bool = False) -> BundleMeta:
    labels = {"background": 0, "NET": 1, "ED": 2, "ET": 4}
    output = {"activation": "sigmoid", "regions": {"WT": [1, 2, 4], "TC": [1, 4], "ET": [4]}} if regions \
        else {"activation": "softmax"}
    dims = 2 if patch_mode_name == "2d" else 3
    return build_meta(
        name="phantoms fold 1",
        network={"name": "unet", "args": {"spatial_dims": dims, "in_channels": 1, "out_channels": 3,
                                          "kernel_size": (3, 3)}},
        channels=["T2"], modality="MR",
        output=parse_output({"labels": labels, "output": output}),
        preprocessing={"normalization": "zscore", "spacing": (1.0, 0.5, 0.5)},
        inference=InferenceSettings.for_patch(patch_mode_name, [8, 32, 32] if dims == 3 else [32, 32], 0.5),
        recipe={"patch": {"mode": patch_mode_name}, "data": Path("/data")},
        validation_metrics={"dice": 0.8, "hd95": float("nan")},
        members=[MemberInfo.for_fold(1, {"dice": 0.8})],
    )


@pytest.mark.parametrize(("mode", "regions", "name"), [("3d", False, "b"), ("2d", False, "b.zip"),
                                                        ("3d", True, "b")])
def test_builder_file_parser_round_trip(tmp_path: Path, mode: str, regions: bool, name: str) -> None:
    built = _built(mode, regions)
    path = save_bundle(tmp_path / name, built, [{"w": torch.zeros(2)}])
    assert load_bundle(path).info == built
    assert parse_meta(built.to_dict()) == built
    stored = load_bundle(path).meta
    assert stored["inference"]["mode"] == (SLICES2D if mode == "2d" else SLIDING_WINDOW)
    assert stored["inference"]["patch_size"] == ([1, 32, 32] if mode == "2d" else [8, 32, 32])
    assert stored["training"]["validation_metrics"]["hd95"] is None  # NaN stored as null, with a reason
    assert stored["training"]["validation_metrics"]["hd95_reason"]
    member = {"weights": "fold1.safetensors", "fold": 1, "validation_metrics": {"dice": 0.8}}
    assert stored["members"] == [member]
    if regions:
        steps = [{"region": "WT", "label": 2}, {"region": "TC", "label": 1}, {"region": "ET", "label": 4}]
        assert stored["output"]["region_rebuild"] == steps


def test_the_builder_refuses_what_the_parser_would() -> None:
    with pytest.raises(MedSegError, match=r"inference\.overlap"):
        build_meta(name="x", network={"name": "unet", "args": {}}, channels=["T2"], modality="MR",
                   output=parse_output({"labels": {"background": 0, "a": 1}, "output": {}}), preprocessing={},
                   inference=InferenceSettings(SLIDING_WINDOW, (8, 8, 8), 1.0), recipe={},
                   validation_metrics={}, members=[MemberInfo.for_fold(0)])
