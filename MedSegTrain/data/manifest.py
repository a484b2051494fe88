"""CSV manifests: one row per case, for data that does not follow the MSD/nnU-Net layout.

Format (header required; relative paths are relative to the CSV's folder)::

    # name: liver-study            <- optional leading comment lines: name, modality (CT/MR/other),
    # labels: liver=1, tumour=2       labels (name=value, background 0 implied), channels (names)
    case_id,image_T1,image_T2,label
    p01,scans/p01_t1.nii.gz,scans/p01_t2.nii.gz,masks/p01.nii.gz
    p02,scans/p02_t1.nii.gz,scans/p02_t2.nii.gz,          <- empty label: a test case

Image columns are ``image`` or ``image<anything>`` in order; their suffix (``T1``) names the
channel unless a ``# channels:`` line does. Without a ``# labels:`` line the label values are
collected from the label files themselves and named ``label_<value>``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from MedSegTrain.data.dataset import Case, Dataset, modality_from_channels, relative_to
from MedSegTrain.errors import MedSegError


def read_manifest(csv_path: Path) -> Dataset:
    """Read a CSV manifest into a :class:`Dataset`."""
    csv_path = Path(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MedSegError(f"{csv_path}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MedSegError(f"{csv_path}: cannot be read ({exc})") from None
    lines = text.splitlines()
    comments: dict[str, str] = {}
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        key, sep, value = lines.pop(0).lstrip("#").partition(":")
        if sep:
            comments[key.strip().lower()] = value.strip()
    skipped = len(text.splitlines()) - len(lines)
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows:
        raise MedSegError(f"{csv_path}: no header row (expected case_id,image[,image2...],label)")
    header = [cell.strip() for cell in rows[0]]
    if "case_id" not in header:
        raise MedSegError(f"{csv_path}: the header needs a 'case_id' column, got {header}")
    image_columns = [i for i, name in enumerate(header) if name.lower().startswith("image")]
    if not image_columns:
        raise MedSegError(f"{csv_path}: the header needs at least one 'image' column, got {header}")
    id_column = header.index("case_id")
    label_column = header.index("label") if "label" in header else None
    channel_names = _channel_names(comments, [header[i] for i in image_columns], csv_path)
    folder = csv_path.parent
    problems: list[str] = []
    training: list[Case] = []
    test: list[Case] = []
    for line_number, row in enumerate(rows[1:], start=skipped + 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"{csv_path}: row {line_number} has {len(row)} cells, the header {len(header)}")
            continue
        case_id = row[id_column].strip()
        images = [row[i].strip() for i in image_columns]
        if not case_id or not all(images):
            problems.append(f"{csv_path}: row {line_number} has an empty case_id or image cell")
            continue
        label = row[label_column].strip() if label_column is not None else ""
        case = Case(case_id, [relative_to(folder, p) for p in images],
                    relative_to(folder, label) if label else None)
        (training if case.label is not None else test).append(case)
    labels = (_declared_labels(comments["labels"], csv_path) if "labels" in comments
              else _labels_from_files(training))
    modality = comments.get("modality", "")
    return Dataset(
        root=folder,
        name=comments.get("name") or csv_path.stem,
        channel_names=channel_names,
        labels=labels,
        training=training,
        test=test,
        regions=None,
        modality=modality if modality in ("CT", "MR", "other") else modality_from_channels(channel_names),
        layout="csv",
        source=csv_path,
        load_problems=problems,
    )



def _channel_names(comments: dict[str, str], columns: list[str], csv_path: Path) -> list[str]:
    if "channels" in comments:
        names = [n.strip() for n in comments["channels"].split(",") if n.strip()]
        if len(names) != len(columns):
            raise MedSegError(f"{csv_path}: '# channels:' names {len(names)} channels but the header has "
                              f"{len(columns)} image columns")
        return names
    names = []
    for index, column in enumerate(columns):
        suffix = column[len("image"):].strip(" _:-")
        names.append(suffix or f"channel{index}")
    return names


def _declared_labels(spec: str, csv_path: Path) -> dict[str, int]:
    labels = {"background": 0}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        try:
            number = int(value)
        except ValueError:
            number = -1
        if not sep or not name.strip() or number < 0:
            raise MedSegError(f"{csv_path}: '# labels:' entry '{item}' is not name=value with a "
                              "non-negative integer value")
        labels[name.strip()] = number
    return dict(sorted(labels.items(), key=lambda item: item[1]))


def _labels_from_files(training: list[Case]) -> dict[str, int]:
    from MedSegTrain.io import read_image

    values: set[int] = {0}
    for case in training:
        try:
            array = read_image(case.label).array  # type: ignore[arg-type]
        except MedSegError:
            continue  # validation reports unreadable files
        values.update(int(v) for v in np.unique(array) if float(v).is_integer())
    return {("background" if v == 0 else f"label_{v}"): v for v in sorted(values)}
