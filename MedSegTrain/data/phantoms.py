"""Synthetic CT/MR datasets that ship with the project (the embedded demo data).

Three kinds, each a small nnU-Net v2 style dataset:

* ``prostate-mri``: T2-weighted pelvis crop; labels central gland 1, peripheral zone 2
  (merge them into "prostate" to show label merging, PAPERS.md T1).
* ``kidney-ct``: contrast-enhanced abdominal CT crop in Hounsfield units; labels kidney 1, tumour 2.
* ``brain-mri``: skull-stripped 4-channel MR (T1, T1ce, T2, FLAIR); labels NCR 1, ED 2, ET 3 with
  regions WT = {1, 2, 3}, TC = {1, 3}, ET = {3} (PAPERS.md B4, B8).

Shapes are smoothly deformed ellipsoids; MR gets a multiplicative bias field and Rician noise,
CT Gaussian noise; all get a partial-volume blur. Spacing is anisotropic and the slice count
varies per case. Case ``i`` of seed ``s`` depends only on ``(s, i)``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from MedSegTrain.data.phantom_shapes import (
    Grid,
    bias_field,
    deformed,
    ellipsoid_radius,
    partial_volume,
    rician,
    smooth_field,
)
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import atomic_output_dir, write_json_atomic
from MedSegTrain.io import Volume, write_image
from MedSegTrain.progress import Progress

GENERATOR_VERSION = 1
IN_PLANE = 80
FILE_ENDING = ".nii.gz"
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

Phantom = tuple[list[Volume], Volume]


def _grid(rng: np.random.Generator, in_plane_mm: tuple[float, float], slice_mm: float,
          slices: tuple[int, int]) -> Grid:
    spacing_xy = float(rng.uniform(*in_plane_mm))
    n_slices = int(rng.integers(slices[0], slices[1] + 1))
    return Grid((n_slices, IN_PLANE, IN_PLANE), (spacing_xy, spacing_xy, slice_mm))


def _volume(array: np.ndarray, grid: Grid) -> Volume:
    extent = [n * s for n, s in zip(grid.shape[::-1], grid.spacing, strict=True)]
    origin = tuple(-e / 2 + s / 2 for e, s in zip(extent, grid.spacing, strict=True))
    return Volume(array, grid.spacing, origin, IDENTITY)


def _mr(clean: np.ndarray, grid: Grid, rng: np.random.Generator, noise: float) -> np.ndarray:
    blurred = partial_volume(clean, grid, (1.0, 1.0, grid.spacing[2]))
    biased = blurred * bias_field(grid, rng, 0.2)
    return np.clip(np.rint(rician(biased, noise, rng)), 0, 32767).astype(np.int16)


def prostate_mri(rng: np.random.Generator) -> Phantom:
    """T2w pelvis: fat, muscles, bladder, rectum; prostate with central gland (1) and peripheral zone (2)."""
    grid = _grid(rng, (0.9, 1.2), 3.0, (18, 28))
    coords = grid.coords()
    half_fov = IN_PLANE * grid.spacing[0] / 2
    body = deformed(ellipsoid_radius(coords, (0, 0, 0), (half_fov * 1.05, half_fov * 0.9, 1e4)),
                    smooth_field(grid, rng, 40), 0.03)
    image = np.where(body, 450.0, 0.0).astype(np.float32)
    image *= 1 + 0.08 * smooth_field(grid, rng, 8)  # fat texture
    radii = (float(rng.uniform(17, 23)), float(rng.uniform(12, 16)), float(rng.uniform(15, 20)))
    centre = (float(rng.uniform(-3, 3)), float(rng.uniform(-3, 3)), float(rng.uniform(-5, 5)))
    angle = float(rng.uniform(-0.25, 0.25))
    for side in (-1, 1):  # obturator internus muscles
        muscle = ellipsoid_radius(coords, (side * (radii[0] + 16), centre[1], 0), (9, 22, 1e4), side * 0.3)
        image[deformed(muscle, smooth_field(grid, rng, 20), 0.1) & body] = 170
    rectum_centre = (centre[0], centre[1] + radii[1] + 11, 0)
    rectum = ellipsoid_radius(coords, rectum_centre, (12, 9, 1e4))
    image[(rectum < 1) & body] = 220
    image[rectum < 0.55] = 40
    bladder_centre = (0, centre[1] - radii[1] - 14, centre[2] + radii[2] + 12)
    bladder = ellipsoid_radius(coords, bladder_centre, (30, 22, 26))
    image[deformed(bladder, smooth_field(grid, rng, 25), 0.06) & body] = 1100
    prostate = deformed(ellipsoid_radius(coords, centre, radii, angle), smooth_field(grid, rng, 15), 0.07)
    gland_centre = (centre[0], centre[1] - 0.3 * radii[1], centre[2] + 0.1 * radii[2])
    gland_radii = (0.68 * radii[0], 0.62 * radii[1], 0.75 * radii[2])
    central = prostate & deformed(ellipsoid_radius(coords, gland_centre, gland_radii, angle),
                                  smooth_field(grid, rng, 10), 0.1)
    peripheral = prostate & ~central
    image[peripheral] = 700 * (1 + 0.1 * smooth_field(grid, rng, 5))[peripheral]
    image[central] = 330 * (1 + 0.18 * smooth_field(grid, rng, 4))[central]
    label = np.zeros(grid.shape, np.uint8)
    label[central] = 1
    label[peripheral] = 2
    return [_volume(_mr(image, grid, rng, 22.0), grid)], _volume(label, grid)


def kidney_ct(rng: np.random.Generator) -> Phantom:
    """Contrast CT crop around a kidney: air, fat, muscle, liver, spine; kidney (1) with a tumour (2)."""
    grid = _grid(rng, (1.2, 1.6), 3.0, (16, 26))
    coords = grid.coords()
    half_fov = IN_PLANE * grid.spacing[0] / 2
    body_centre = (-0.35 * half_fov, -0.2 * half_fov, 0)
    body_radius = ellipsoid_radius(coords, body_centre, (1.25 * half_fov, 1.0 * half_fov, 1e4))
    body = deformed(body_radius, smooth_field(grid, rng, 40), 0.02)
    inner = deformed(body_radius, smooth_field(grid, rng, 30), 0.04, level=0.82)
    hu = np.full(grid.shape, -1000.0, np.float32)
    hu[body] = -100  # subcutaneous fat
    hu[inner] = -90  # retroperitoneal fat
    spine_centre = (-0.85 * half_fov, 0.45 * half_fov, 0)
    muscle = ellipsoid_radius(coords, (spine_centre[0] + 22, spine_centre[1] - 4, 0), (14, 20, 1e4))
    hu[deformed(muscle, smooth_field(grid, rng, 20), 0.08) & inner] = 50  # psoas
    liver = ellipsoid_radius(coords, (0.55 * half_fov, -0.75 * half_fov, 20), (45, 40, 60))
    hu[deformed(liver, smooth_field(grid, rng, 30), 0.05) & inner] = 95
    vertebra = ellipsoid_radius(coords, spine_centre, (16, 14, 1e4))
    hu[vertebra < 1] = float(rng.uniform(700, 1000))  # cortical bone
    hu[vertebra < 0.8] = float(rng.uniform(220, 400))  # trabecular bone
    radii = (float(rng.uniform(24, 30)), float(rng.uniform(20, 26)), float(rng.uniform(26, 34)))
    centre = (float(rng.uniform(-5, 5)), float(rng.uniform(-4, 4)), float(rng.uniform(-6, 6)))
    angle = float(rng.uniform(-0.5, 0.5))
    kidney_radius = ellipsoid_radius(coords, centre, radii, angle)
    kidney = deformed(kidney_radius, smooth_field(grid, rng, 18), 0.06)
    hilum = ellipsoid_radius(coords, (centre[0] - 0.9 * radii[0], centre[1] + 0.2 * radii[1], centre[2]),
                             (0.55 * radii[0], 0.35 * radii[1], 0.45 * radii[2]), angle)
    kidney &= hilum >= 1
    sinus = kidney & (kidney_radius < 0.45)
    hu[kidney] = 150  # enhanced cortex
    hu[kidney & (kidney_radius < 0.75)] = 95  # medulla
    hu[sinus] = -40
    kidney &= ~sinus
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    tumour_radius = float(rng.uniform(10, 18))
    on_surface = [c + 0.85 * r * d for c, r, d in zip(centre, radii, direction, strict=True)]
    tumour_r = ellipsoid_radius(coords, tuple(on_surface), (tumour_radius,) * 3)  # type: ignore[arg-type]
    tumour = deformed(tumour_r, smooth_field(grid, rng, 8), 0.12) & inner
    hu[tumour] = (75 + 18 * smooth_field(grid, rng, 4))[tumour]
    hu[tumour & (tumour_r < 0.4)] = 25  # necrotic core
    hu = partial_volume(hu, grid, (1.2, 1.2, 3.0))
    hu += rng.normal(0, 12, grid.shape).astype(np.float32)
    label = np.zeros(grid.shape, np.uint8)
    label[kidney] = 1
    label[tumour] = 2
    ct = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    return [_volume(ct, grid)], _volume(label, grid)


# relative signal of each tissue per channel: T1, T1ce, T2, FLAIR
BRAIN_SIGNAL = {
    "wm": (1.00, 1.00, 0.60, 0.70),
    "gm": (0.75, 0.78, 0.80, 0.85),
    "csf": (0.30, 0.30, 1.60, 0.25),
    "ed": (0.65, 0.66, 1.30, 1.50),
    "ncr": (0.35, 0.38, 1.50, 0.90),
    "et": (0.70, 1.60, 1.00, 1.20),
}


def brain_mri(rng: np.random.Generator) -> Phantom:
    """Skull-stripped 4-channel MR; tumour NCR (1), ED (2), ET (3) nested as ET ⊂ TC ⊂ WT."""
    grid = _grid(rng, (1.9, 2.2), 5.0, (20, 30))
    coords = grid.coords()
    head = (float(rng.uniform(58, 66)), float(rng.uniform(68, 76)), float(rng.uniform(58, 68)))
    brain_radius = ellipsoid_radius(coords, (0, 0, float(rng.uniform(-10, 10))), head)
    brain = deformed(brain_radius, smooth_field(grid, rng, 30), 0.04)
    white = deformed(brain_radius, smooth_field(grid, rng, 10), 0.08, level=0.8)
    ventricles = np.zeros(grid.shape, bool)
    for side in (-1, 1):
        ventricles |= ellipsoid_radius(coords, (side * 7, -5, 0), (5, 22, 14), side * 0.2) < 1
    inside = brain_radius < 0.75
    centre_r = float(rng.uniform(0.2, 0.45))
    theta = float(rng.uniform(0, 2 * math.pi))
    centre = (centre_r * head[0] * math.cos(theta), centre_r * head[1] * math.sin(theta),
              float(rng.uniform(-0.2, 0.2)) * head[2])
    wt_radii = tuple(float(rng.uniform(22, 32)) for _ in range(3))
    wt_radius = ellipsoid_radius(coords, centre, wt_radii, float(rng.uniform(0, math.pi)))  # type: ignore[arg-type]
    whole = deformed(wt_radius, smooth_field(grid, rng, 12), 0.15) & brain & ~ventricles
    tc_radii = tuple(r * float(rng.uniform(0.6, 0.75)) for r in wt_radii)
    tc_centre = tuple(c + float(rng.uniform(-3, 3)) for c in centre)
    tc_radius = ellipsoid_radius(coords, tc_centre, tc_radii)  # type: ignore[arg-type]
    core = deformed(tc_radius, smooth_field(grid, rng, 8), 0.12) & whole & (wt_radius < 0.8)
    enhancing = core & ~deformed(tc_radius, smooth_field(grid, rng, 6), 0.1, level=0.7)
    necrotic = core & ~enhancing
    tissue = {"gm": brain & ~white, "wm": brain & white, "csf": brain & ventricles & inside,
              "ed": whole & ~core, "ncr": necrotic, "et": enhancing}
    texture = 1 + 0.05 * smooth_field(grid, rng, 6)
    channels = []
    for c in range(4):
        signal = np.zeros(grid.shape, np.float32)
        for name, mask in tissue.items():
            signal[mask] = 600 * BRAIN_SIGNAL[name][c]
        signal *= texture
        channels.append(_volume(_mr(signal, grid, rng, 18.0) * brain, grid))
    label = np.zeros(grid.shape, np.uint8)
    label[whole] = 2
    label[necrotic] = 1
    label[enhancing] = 3
    return channels, _volume(label, grid)


KINDS: dict[str, dict] = {
    "prostate-mri": {"make": prostate_mri, "prefix": "prostate", "channels": ["T2"],
                     "labels": {"background": 0, "central_gland": 1, "peripheral_zone": 2},
                     "regions": None, "title": "Phantom prostate T2w MRI"},
    "kidney-ct": {"make": kidney_ct, "prefix": "kidney", "channels": ["CT"],
                  "labels": {"background": 0, "kidney": 1, "tumour": 2},
                  "regions": None, "title": "Phantom contrast-enhanced kidney CT"},
    "brain-mri": {"make": brain_mri, "prefix": "brain", "channels": ["T1", "T1ce", "T2", "FLAIR"],
                  "labels": {"background": 0, "NCR": 1, "ED": 2, "ET": 3},
                  "regions": {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]},
                  "title": "Phantom brain tumour 4-channel MRI"},
}


def _kind(kind: str) -> dict:
    if kind not in KINDS:
        raise MedSegError(f"unknown phantom kind '{kind}'; choose one of {', '.join(KINDS)}")
    return KINDS[kind]


def make_phantom_case(kind: str, rng: np.random.Generator) -> Phantom:
    """One synthetic case: its channel volumes and its label volume (same grid)."""
    make: Callable[[np.random.Generator], Phantom] = _kind(kind)["make"]
    return make(rng)


def case_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of case ``index``: independent of how many cases are made."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def generate_phantom_dataset(kind: str, n_cases: int, out_dir: str | Path, seed: int = 0,
                             n_test: int = 0, progress: Progress | None = None) -> Path:
    """Write an nnU-Net v2 style dataset of ``n_cases`` training (+ ``n_test`` held-out) phantoms.

    Layout: ``imagesTr/<id>_0000.nii.gz`` (one file per channel), ``labelsTr/<id>.nii.gz``,
    ``imagesTs``/``labelsTs`` for held-out cases, ``dataset.json``. The folder appears atomically;
    an existing folder is replaced only if it holds an earlier phantom dataset or nothing.
    """
    spec = _kind(kind)
    if not isinstance(n_cases, int) or isinstance(n_cases, bool) or n_cases < 1:
        raise MedSegError(f"--cases must be a positive number of cases, got {n_cases!r}")
    if not isinstance(n_test, int) or isinstance(n_test, bool) or n_test < 0:
        raise MedSegError(f"--test-cases must be zero or more, got {n_test!r}")
    out_dir = Path(out_dir)
    _check_target(out_dir)
    progress = progress or Progress("none")
    progress.task(f"phantoms {kind}", n_cases + n_test)
    try:
        with atomic_output_dir(out_dir) as tmp:
            tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the dataset is not
            for index in range(n_cases + n_test):
                case_id = f"{spec['prefix']}_{index:03d}"
                channels, label = make_phantom_case(kind, case_rng(seed, index))
                split = "Tr" if index < n_cases else "Ts"
                for c, channel in enumerate(channels):
                    write_image(channel, tmp / f"images{split}" / f"{case_id}_{c:04d}{FILE_ENDING}")
                write_image(label, tmp / f"labels{split}" / f"{case_id}{FILE_ENDING}")
                if index == 0:
                    _check_free_space(tmp, n_cases + n_test, out_dir)
                progress.advance(1, message=case_id)
            write_json_atomic(tmp / "dataset.json", _description(kind, spec, n_cases, n_test, seed))
    except OSError as exc:
        raise MedSegError(f"{out_dir}: cannot write the dataset ({exc.strerror or exc})") from None
    finally:
        progress.close()
    return out_dir


def _description(kind: str, spec: dict, n_cases: int, n_test: int, seed: int) -> dict:
    description = {
        "name": spec["title"],
        "description": f"Synthetic {kind} phantoms generated by medsegtrain (not patient data)",
        "licence": "CC0 (synthetic)",
        "channel_names": {str(i): name for i, name in enumerate(spec["channels"])},
        "labels": spec["labels"],
        "numTraining": n_cases,
        "numTest": n_test,
        "file_ending": FILE_ENDING,
        "phantom": {"kind": kind, "seed": seed, "generator_version": GENERATOR_VERSION},
    }
    if spec["regions"]:
        description["regions"] = spec["regions"]
    return description


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise MedSegError(f"--out {out_dir}: exists and is not a folder")
    ancestor = out_dir.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise MedSegError(f"--out {out_dir}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise MedSegError(f"--out {out_dir}: folder {ancestor} is not writable")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not _is_phantom_dataset(out_dir):
        raise MedSegError(f"--out {out_dir}: folder exists and is not empty (and is not an earlier phantom "
                          "dataset); choose a new folder")
    foreign = _foreign_files(out_dir) if out_dir.is_dir() else []
    if foreign:
        shown = ", ".join(foreign[:4]) + (" ..." if len(foreign) > 4 else "")
        raise MedSegError(f"--out {out_dir}: this earlier phantom dataset also holds files the generator did "
                          f"not write ({shown}); replacing it would delete them: move them or choose a "
                          "new folder")


def _check_free_space(folder: Path, n_total: int, out_dir: Path) -> None:
    """After the first case: refuse a dataset the disk cannot hold, before filling it (an unbounded
    ``--cases`` used to fill the disk and leave gigabytes in a hidden folder)."""
    per_case = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    needed = per_case * (n_total - 1) * 1.1
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise MedSegError(f"--out {out_dir}: {n_total} cases need about {needed / 2**30:.2f} GiB more but "
                          f"only {free / 2**30:.2f} GiB are free there; use fewer --cases or another disk")


def _foreign_files(folder: Path) -> list[str]:
    """Paths under an earlier phantom dataset that its generation did not write (a user's notes, a
    trained bundle): replacing the dataset must not delete them."""
    try:
        description = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
        spec = _kind(description["phantom"]["kind"])
        n_train, n_test = int(description["numTraining"]), int(description["numTest"])
    except (OSError, ValueError, TypeError, KeyError, MedSegError):
        return ["dataset.json (not one the generator wrote)"]
    ours = {"dataset.json"}
    for index in range(n_train + n_test):
        split = "Tr" if index < n_train else "Ts"
        case_id = f"{spec['prefix']}_{index:03d}"
        ours.add(f"labels{split}/{case_id}{FILE_ENDING}")
        ours.update(f"images{split}/{case_id}_{c:04d}{FILE_ENDING}" for c in range(len(spec["channels"])))
    folders = {"imagesTr", "labelsTr", "imagesTs", "labelsTs"}
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    return [name for name in found if name not in ours and name not in folders]


def _is_phantom_dataset(folder: Path) -> bool:
    try:
        return "phantom" in json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False
