"""Folders described by ``dataset.json``: Medical Segmentation Decathlon and nnU-Net v1/v2.

* MSD: ``modality`` {"0": "MRI"}, ``labels`` {"0": "background", "1": ...} (value -> name),
  ``training`` [{"image": "./imagesTr/x.nii.gz", "label": ...}] (images may be 4D),
  ``test`` ["./imagesTs/y.nii.gz"].
* nnU-Net v1: the MSD description, but each channel is its own file ``x_0000.nii.gz``,
  ``x_0001.nii.gz`` ... beside the name the description lists.
* nnU-Net v2: ``channel_names`` {"0": "CT"}, ``labels`` {"background": 0, "kidney": 1} (name ->
  value, or name -> list of values for region training), ``file_ending``; cases are discovered
  as ``imagesTr/<case>_0000<file_ending>`` (or listed under ``dataset``).

An extra top-level ``regions`` {"WT": [1, 2, 3], ...} is read too (the phantoms write it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from MedSegTrain.data.dataset import Case, Dataset, modality_from_channels, relative_to
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import parse_json, read_config_text
from MedSegTrain.io import case_id as file_case_id  # case_id is also a local name below


def read_dataset_json(path: Path) -> Dataset:
    """Read a dataset folder (or its ``dataset.json``) into a :class:`Dataset`."""
    path = Path(path)
    json_path = path / "dataset.json" if path.is_dir() else path
    if not json_path.is_file():
        raise MedSegError(f"{json_path}: dataset description not found (expected a folder with "
                          "dataset.json, or a CSV manifest)")
    meta = _load_json(json_path)
    folder = json_path.parent
    channel_names = _channel_names(meta, json_path)
    labels, regions = _labels_and_regions(meta, json_path)
    problems: list[str] = []
    if "training" in meta:
        training, test, layout = _listed_cases(meta, folder, len(channel_names), json_path, problems)
    else:
        training, test = _discovered_cases(meta, folder, len(channel_names), json_path, problems)
        layout = "nnunet-v2"
    declared = meta.get("numTraining")
    declared_training = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
    if declared_training is not None and declared_training != len(training):
        problems.append(f"{json_path}: numTraining is {declared_training} but {len(training)} "
                        "training cases were found")
    modality = meta.get("modality_kind")
    return Dataset(
        root=folder,
        name=str(meta.get("name") or folder.name),
        channel_names=channel_names,
        labels=labels,
        training=training,
        test=test,
        regions=regions,
        modality=modality if modality in ("CT", "MR", "other") else modality_from_channels(channel_names),
        layout=layout,
        source=json_path,
        declared_training=declared_training,
        load_problems=problems,
    )


def _load_json(json_path: Path) -> dict[str, Any]:
    meta = parse_json(read_config_text(json_path, "dataset description"), str(json_path))
    if not isinstance(meta, dict):
        raise MedSegError(f"{json_path}: must hold a JSON object")
    return meta


def _index_map(raw: Any, key: str, json_path: Path) -> list[str]:
    if not isinstance(raw, dict) or not raw:
        raise MedSegError(f"{json_path}: '{key}' must be a non-empty object {{\"0\": name, ...}}")
    try:
        items = sorted((int(k), str(v)) for k, v in raw.items())
    except ValueError:
        raise MedSegError(f"{json_path}: the keys of '{key}' must be channel indices 0, 1, ...") from None
    if [k for k, _ in items] != list(range(len(items))):
        raise MedSegError(f"{json_path}: the keys of '{key}' must be 0..{len(items) - 1} without gaps")
    return [name for _, name in items]


def _channel_names(meta: dict[str, Any], json_path: Path) -> list[str]:
    if "channel_names" in meta:
        return _index_map(meta["channel_names"], "channel_names", json_path)
    if "modality" in meta:
        return _index_map(meta["modality"], "modality", json_path)
    raise MedSegError(f"{json_path}: needs 'channel_names' (nnU-Net v2) or 'modality' (MSD, nnU-Net v1)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _labels_and_regions(meta: dict[str, Any],
                        json_path: Path) -> tuple[dict[str, int], dict[str, list[int]] | None]:
    raw = meta.get("labels")
    if not isinstance(raw, dict) or not raw:
        raise MedSegError(f"{json_path}: 'labels' must be a non-empty object")
    labels: dict[str, int] = {}
    regions: dict[str, list[int]] = {}
    value_to_name = all(isinstance(v, str) for v in raw.values())
    for key, value in raw.items():
        if value_to_name:  # MSD / nnU-Net v1: {"0": "background"}
            try:
                labels[value] = int(key)
            except ValueError:
                raise MedSegError(f"{json_path}: label key '{key}' is not an integer value") from None
        elif _is_int(value):
            labels[key] = value
        elif isinstance(value, list) and value and all(_is_int(v) for v in value):
            regions[key] = sorted(set(value))
        else:
            raise MedSegError(f"{json_path}: label '{key}' must map to an integer or a list of integers, "
                              f"got {value!r}")
    extra = meta.get("regions")
    if extra is not None:
        if not isinstance(extra, dict) or not all(
                isinstance(v, list) and v and all(_is_int(x) for x in v) for v in extra.values()):
            raise MedSegError(f"{json_path}: 'regions' must map names to non-empty lists of label values")
        regions.update({k: sorted(set(v)) for k, v in extra.items()})
    if any(v < 0 for v in labels.values()):
        raise MedSegError(f"{json_path}: label values must not be negative")
    if 0 not in labels.values():
        labels = {"background": 0, **labels}
    named = set(labels.values())
    for value in sorted({v for members in regions.values() for v in members} - named):
        labels[f"label_{value}"] = value
    labels = dict(sorted(labels.items(), key=lambda item: item[1]))
    return labels, (regions or None)



def split_ending(name: str) -> tuple[str, str]:
    """``('x', '.nii.gz')`` for ``x.nii.gz``; unknown endings split at the last dot."""
    stem = file_case_id(name, any_suffix=True)
    return stem, name[len(stem):]


def _channel_files(listed: Path, n_channels: int) -> tuple[list[Path], bool]:
    """The files of a listed image: itself (MSD) or its ``_0000`` ... channel files (nnU-Net v1)."""
    if listed.exists():
        return [listed], False
    stem, ending = split_ending(listed.name)
    split = [listed.with_name(f"{stem}_{c:04d}{ending}") for c in range(n_channels)]
    if split[0].exists():
        return split, True
    return [listed], False


def _listed_cases(meta: dict[str, Any], folder: Path, n_channels: int, json_path: Path,
                  problems: list[str]) -> tuple[list[Case], list[Case], str]:
    entries = meta["training"]
    if not isinstance(entries, list):
        raise MedSegError(f"{json_path}: 'training' must be a list of {{\"image\", \"label\"}} objects")
    split_seen = False
    training: list[Case] = []
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), (str, list)):
            problems.append(f"{json_path}: training entry {number} has no 'image'")
            continue
        images, split = _entry_images(entry["image"], folder, n_channels)
        split_seen |= split
        case_id = _entry_case_id(entry["image"])
        label = entry.get("label")
        if not isinstance(label, str):
            problems.append(f"{json_path}: training entry {number} ({case_id}) has no 'label'")
        training.append(Case(case_id, images,
                             relative_to(folder, label) if isinstance(label, str) else None))
    test: list[Case] = []
    for entry in meta.get("test") or []:
        raw = entry.get("image") if isinstance(entry, dict) else entry
        if not isinstance(raw, (str, list)):
            problems.append(f"{json_path}: test entry {entry!r} has no image path")
            continue
        images, split = _entry_images(raw, folder, n_channels)
        split_seen |= split
        label = entry.get("label") if isinstance(entry, dict) else None
        test.append(Case(_entry_case_id(raw), images,
                         relative_to(folder, label) if isinstance(label, str) else None))
    return training, test, "nnunet-v1" if split_seen else "msd"


def _entry_case_id(raw: str | list[str]) -> str:
    if isinstance(raw, list):
        return file_case_id(str(raw[0]), channel_suffix=True, any_suffix=True) if raw else ""
    return file_case_id(raw, any_suffix=True)


def _entry_images(raw: str | list[str], folder: Path, n_channels: int) -> tuple[list[Path], bool]:
    if isinstance(raw, list):
        return [relative_to(folder, str(item)) for item in raw], False
    return _channel_files(relative_to(folder, raw), n_channels)


def _discovered_cases(meta: dict[str, Any], folder: Path, n_channels: int, json_path: Path,
                      problems: list[str]) -> tuple[list[Case], list[Case]]:
    ending = meta.get("file_ending", ".nii.gz")
    if not isinstance(ending, str) or not ending.startswith("."):
        raise MedSegError(f"{json_path}: 'file_ending' must be a suffix such as \".nii.gz\", got {ending!r}")
    listed = meta.get("dataset")
    if isinstance(listed, dict):
        training = []
        for case_id, entry in listed.items():
            images = entry.get("images") if isinstance(entry, dict) else None
            if not isinstance(images, list) or not images:
                problems.append(f"{json_path}: dataset entry '{case_id}' has no 'images' list")
                continue
            label = entry.get("label")
            training.append(Case(str(case_id), [relative_to(folder, str(i)) for i in images],
                                 relative_to(folder, label) if isinstance(label, str) else None))
        return training, []
    if not (folder / "imagesTr").is_dir():
        raise MedSegError(f"{folder}: no imagesTr folder (nnU-Net v2 layout) and no 'training' list "
                          "in dataset.json")
    training = _scan_split(folder / "imagesTr", folder / "labelsTr", ending, n_channels, problems,
                           label_required=True)
    test = (_scan_split(folder / "imagesTs", folder / "labelsTs", ending, n_channels, problems,
                        label_required=False)
            if (folder / "imagesTs").is_dir() else [])
    return training, test


def _scan_split(images_dir: Path, labels_dir: Path, ending: str, n_channels: int, problems: list[str],
                label_required: bool) -> list[Case]:
    suffix = f"_0000{ending}"
    case_ids = sorted(p.name[: -len(suffix)] for p in images_dir.iterdir() if p.name.endswith(suffix))
    cases = []
    for case_id in case_ids:
        images = [images_dir / f"{case_id}_{c:04d}{ending}" for c in range(n_channels)]
        label = labels_dir / f"{case_id}{ending}"
        cases.append(Case(case_id, images, label if (label_required or label.exists()) else None))
    if labels_dir.is_dir():
        known = set(case_ids)
        for orphan in sorted(labels_dir.iterdir()):
            if orphan.name.endswith(ending) and orphan.name[: -len(ending)] not in known:
                problems.append(f"{orphan}: label without a matching image "
                                f"{images_dir.name}/{orphan.name[: -len(ending)]}_0000{ending}")
    known_ids = set(case_ids)
    extra = sorted(p for p in images_dir.iterdir() if p.name.endswith(ending)
                   and file_case_id(p.name, channel_suffix=True, any_suffix=True) not in known_ids)
    problems.extend(f"{p}: image without a '_0000' channel file of its case" for p in extra)
    return cases
