"""Data for training: dataset cases -> preprocessed arrays cached on disk -> patch/slice batches.

* :func:`prepare_cases` runs the bundle's :class:`PreprocessingSpec` once per case and caches the
  result as ``.npy`` files (memory-mapped afterwards, so datasets larger than RAM work); the cache
  key covers the spec and the input files' sizes and times, so a changed spec or file re-prepares.
* :class:`PatchSampler` draws 3D patches or 2D slices, a configurable share centred on a
  foreground voxel (nnU-Net's oversampling), zero-padded where the volume is smaller.
* :class:`Prefetcher` builds batches in a background thread (numpy and torch release the GIL) so
  the training step never waits for data; it measures the time the step did wait.
"""

from __future__ import annotations

import hashlib
import json
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import atomic_output_file, write_json_atomic

FG_SAMPLES_PER_CLASS = 10_000


@dataclass
class CachedCase:
    """One preprocessed case: image (C, z, y, x) float32, label (z, y, x) uint8, foreground voxels."""

    case_id: str
    image: np.ndarray
    label: np.ndarray | None
    foreground: dict[int, np.ndarray]  # class value -> (n, 3) voxel indices (a random subset)
    spacing_zyx: tuple[float, ...]

    @property
    def n_slices(self) -> int:
        return int(self.image.shape[1])


def _case_key(case: Any, spec_dict: dict) -> str:
    parts: list[Any] = [spec_dict]
    for path in [*case.images, case.label]:
        if path is None:
            continue
        stat = Path(path).stat()
        parts.append([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _foreground_voxels(label: np.ndarray, rng: np.random.Generator) -> dict[int, np.ndarray]:
    out = {}
    for value in np.unique(label):
        if value == 0:
            continue
        coords = np.argwhere(label == value)
        if len(coords) > FG_SAMPLES_PER_CLASS:
            coords = coords[rng.choice(len(coords), FG_SAMPLES_PER_CLASS, replace=False)]
        out[int(value)] = coords.astype(np.int32)
    return out


def _prepare_one(case: Any, spec: Any, folder: Path, lut: np.ndarray, merge: dict[int, int]) -> None:
    from MedSegTrain.data import load_case
    from MedSegTrain.preprocessing.slices import merge_labels

    loaded = load_case(case)
    prepared = spec.prepare_image(loaded.channels)
    arrays = {"image": np.ascontiguousarray(prepared.array, dtype=np.float32)}
    if loaded.label is not None:
        label = np.asarray(spec.prepare_label(loaded.label_volume, prepared)).astype(np.int64)
        label = merge_labels(label, merge) if merge else label
        arrays["label"] = _to_class_index(label, lut, case)
        seed = int(hashlib.sha1(case.case_id.encode()).hexdigest()[:8], 16)
        fg = _foreground_voxels(arrays["label"], np.random.default_rng(seed))
        arrays["fg"] = (
            np.concatenate([np.column_stack([np.full(len(c), v, np.int32), c]) for v, c in fg.items()])
            if fg
            else np.zeros((0, 4), np.int32)
        )
    spacing = list(prepared.geometry.spacing)[::-1]
    for name, array in arrays.items():
        with atomic_output_file(folder / f"{name}.npy") as tmp:
            np.save(tmp, array)
    write_json_atomic(folder / "meta.json", {"case_id": case.case_id, "spacing_zyx": spacing})


def _to_class_index(label: np.ndarray, lut: np.ndarray, case: Any) -> np.ndarray:
    """Label values -> channel indices (sorted label values); unknown values raise naming the file."""
    if label.min() < 0 or label.max() >= len(lut) or (lut[label] < 0).any():
        bad = sorted(set(np.unique(label).tolist()) - set(np.flatnonzero(lut >= 0).tolist()))
        raise MedSegError(f"label {case.label}: value(s) {bad[:5]} are not among the dataset's labels")
    return lut[label].astype(np.uint8)


def label_lut(values: Sequence[int]) -> np.ndarray:
    """Lookup table from label value to channel index (-1: not a label)."""
    values = sorted(int(v) for v in values)
    lut = np.full(max(values) + 1, -1, np.int64)
    lut[values] = np.arange(len(values))
    return lut


def _load_one(case_id: str, folder: Path) -> CachedCase:
    meta = json.loads((folder / "meta.json").read_text())
    label = np.load(folder / "label.npy", mmap_mode="r") if (folder / "label.npy").exists() else None
    fg: dict[int, np.ndarray] = {}
    if (folder / "fg.npy").exists():
        table = np.load(folder / "fg.npy")
        for value in np.unique(table[:, 0]):
            fg[int(value)] = table[table[:, 0] == value, 1:]
    return CachedCase(
        case_id, np.load(folder / "image.npy", mmap_mode="r"), label, fg, tuple(meta["spacing_zyx"])
    )


def prepare_cases(
    cases: Sequence[Any],
    spec: Any,
    cache_dir: Path,
    label_values: Sequence[int],
    workers: int = 2,
    progress: Any = None,
    merge: dict[int, int] | None = None,
) -> dict[str, CachedCase]:
    """Preprocess (or reuse the cache of) every case; returns ``case_id -> CachedCase``.

    Cached labels hold channel indices: label value ``label_values[i]`` (sorted) becomes ``i``,
    after ``merge`` renamed merged sub-labels (T1).
    """
    merge = dict(merge or {})
    spec_dict = {"spec": spec.to_dict(), "labels": sorted(int(v) for v in label_values)}
    if merge:
        spec_dict["merge"] = sorted(merge.items())
    lut = label_lut(label_values)
    folders = {c.case_id: Path(cache_dir) / f"{c.case_id}-{_case_key(c, spec_dict)}" for c in cases}
    loaded = {c.case_id: _load_intact(c.case_id, folders[c.case_id]) for c in cases}
    todo = [c for c in cases if loaded[c.case_id] is None]
    if progress is not None and todo:
        progress.task("preprocess", len(todo))

    def run(case: Any) -> None:
        folders[case.case_id].mkdir(parents=True, exist_ok=True)
        try:
            _prepare_one(case, spec, folders[case.case_id], lut, merge)
        except MedSegError as exc:
            if str(case.images[0]) in str(exc):
                raise
            raise MedSegError(f"case '{case.case_id}' ({case.images[0]}): {exc}") from None
        except Exception as exc:
            raise MedSegError(
                f"case '{case.case_id}' ({case.images[0]}): preprocessing failed: {type(exc).__name__}: {exc}"
            ) from exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for _ in pool.map(run, todo):
            if progress is not None:
                progress.advance(1)
    return {c.case_id: loaded[c.case_id] or _load_one(c.case_id, folders[c.case_id]) for c in cases}


def _load_intact(case_id: str, folder: Path) -> CachedCase | None:
    """The cached case, or None when it is absent or damaged (a truncated ``.npy`` after a crash or
    a full disk, a missing file): a damaged entry is removed, so the case is prepared again instead
    of failing every later run."""
    if not (folder / "meta.json").exists():
        return None
    try:
        case = _load_one(case_id, folder)
        if case.label is not None and case.label.shape != case.image.shape[1:]:
            raise ValueError("image and label shapes differ")
        return case
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _crop(array: np.ndarray, start: Sequence[int], size: Sequence[int]) -> np.ndarray:
    """``array[..., start:start+size]`` over the last len(size) axes, zero-padded outside."""
    lead = array.shape[: array.ndim - len(size)]
    out = np.zeros((*lead, *size), dtype=array.dtype)
    src, dst = [], []
    for s, n, dim in zip(start, size, array.shape[-len(size) :], strict=True):
        lo, hi = max(s, 0), min(s + n, dim)
        src.append(slice(lo, max(hi, lo)))
        dst.append(slice(lo - s, lo - s + max(hi - lo, 0)))
    out[(..., *dst)] = array[(..., *src)]
    return out


class PatchSampler:
    """Random patches (3D) or in-plane slice patches (2D) from cached cases.

    Two slice rules of the papers: ``min_slice_foreground`` (2D) draws only slices whose label
    has more foreground pixels than that (T1: 200); ``n_slices`` (3D) makes each sample a stack
    of that many randomly chosen slices of one volume, in order, drawn anew for every sample, so
    a volume shows different slices every epoch (C3: 16), from its foreground slices only when
    ``exclude_background``.
    """

    def __init__(
        self,
        cases: Sequence[CachedCase],
        patch_size: Sequence[int],
        mode: str = "3d",
        foreground_fraction: float = 0.33,
        min_slice_foreground: int | None = None,
        n_slices: int | None = None,
        exclude_background: bool = True,
    ) -> None:
        if not cases:
            raise MedSegError("training: no cases to sample from")
        if any(c.label is None for c in cases):
            raise MedSegError("training: every training case needs a label")
        self.cases = list(cases)
        self.mode = mode
        size = [int(s) for s in patch_size]
        self.patch = (1, *size[-2:]) if mode == "2d" else tuple(size)
        self.foreground_fraction = float(foreground_fraction)
        self.n_slices = n_slices
        if n_slices is not None and (mode != "3d" or self.patch[0] != n_slices):
            raise MedSegError(
                f"patch.slice_sampling.n_slices {n_slices}: needs patch.mode 3d and patch.size[0] = "
                f"{n_slices}, got {mode} {list(self.patch)}"
            )
        self.slices: list[np.ndarray] | None = None  # per case: the slice indices that may be drawn
        if min_slice_foreground is not None and mode == "2d":
            self.slices = [np.flatnonzero(_fg_per_slice(c) > min_slice_foreground) for c in self.cases]
            what = f"patch.slice_min_foreground {min_slice_foreground}"
        elif n_slices is not None:
            self.slices = [_candidate_slices(c, exclude_background) for c in self.cases]
            what = "patch.slice_sampling"
        if self.slices is not None:
            self.usable = [i for i, s in enumerate(self.slices) if s.size]
            if not self.usable:
                raise MedSegError(f"training: {what}: no training case has a slice to draw")

    def _start(
        self, dims: Sequence[int], rng: np.random.Generator, centre: Sequence[int] | None
    ) -> list[int]:
        start = []
        for axis, (dim, p) in enumerate(zip(dims, self.patch, strict=True)):
            lo, hi = min(0, dim - p), max(0, dim - p)
            if centre is None:
                s = int(rng.integers(lo, hi + 1))
            else:
                jitter = int(rng.integers(-(p // 4), p // 4 + 1)) if p > 1 else 0
                s = int(np.clip(int(centre[axis]) - p // 2 + jitter, lo, hi))
            start.append(s)
        return start

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One ``(image (C, *patch), label (1, *patch))``; 2D drops the slice axis."""
        if self.slices is not None:
            return self._sample_slices(rng)
        case = self.cases[int(rng.integers(len(self.cases)))]
        centre = None
        if case.foreground and rng.random() < self.foreground_fraction:
            classes = sorted(case.foreground)
            coords = case.foreground[classes[int(rng.integers(len(classes)))]]
            centre = coords[int(rng.integers(len(coords)))]
        start = self._start(case.image.shape[1:], rng, centre)
        image = _crop(case.image, start, self.patch)
        label = _crop(case.label, start, self.patch)[None]
        if self.mode == "2d":
            image, label = image[:, 0], label[:, 0]
        return image, label

    def _sample_slices(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A slice (T1) or a stack of random slices (C3) of a case, cropped in-plane at random."""
        from MedSegTrain.preprocessing.slices import choose_slices

        assert self.slices is not None
        index = self.usable[int(rng.integers(len(self.usable)))]
        case, allowed = self.cases[index], self.slices[index]
        if self.n_slices is None:
            chosen = allowed[int(rng.integers(allowed.size))][None]
        else:
            chosen = choose_slices(allowed, self.n_slices, rng)
        image, label = np.asarray(case.image[:, chosen]), np.asarray(case.label[chosen])
        inplane = [int(rng.integers(min(0, d - p), max(0, d - p) + 1))
                   for d, p in zip(image.shape[2:], self.patch[1:], strict=True)]
        start = [0, *inplane]
        image = _crop(image, start, self.patch)
        label = _crop(label, start, self.patch)[None]
        if self.mode == "2d":
            image, label = image[:, 0], label[:, 0]
        return image, label

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` samples stacked: ``(N, C, *patch)`` float32 and ``(N, 1, *patch)`` uint8."""
        pairs = [self.sample(rng) for _ in range(n)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def _fg_per_slice(case: CachedCase) -> np.ndarray:
    from MedSegTrain.preprocessing.slices import foreground_per_slice

    return foreground_per_slice(np.asarray(case.label))


def _candidate_slices(case: CachedCase, exclude_background: bool) -> np.ndarray:
    """C3: the slices with foreground (all slices when none has any, or without the exclusion)."""
    with_fg = np.flatnonzero(_fg_per_slice(case) > 0) if exclude_background else np.zeros(0, int)
    return with_fg if with_fg.size else np.arange(case.n_slices)


class Prefetcher:
    """Iterate ``produce(i)`` for ``i < n`` computed ``depth`` items ahead in a background thread.

    ``wait_seconds`` accumulates the time the consumer blocked; errors in the producer are
    re-raised in the consumer. ``depth = 0`` produces synchronously (for debugging).
    """

    def __init__(self, produce: Callable[[int], Any], n: int, depth: int = 4) -> None:
        self.produce, self.n, self.depth = produce, int(n), int(depth)
        self.wait_seconds = 0.0
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._thread: threading.Thread | None = None

    def _work(self) -> None:
        try:
            for i in range(self.n):
                item = ("item", self.produce(i))
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer
            self._queue.put(("error", exc))

    def __iter__(self) -> Iterator[Any]:
        if self.depth == 0:
            for i in range(self.n):
                t0 = time.perf_counter()
                item = self.produce(i)
                self.wait_seconds += time.perf_counter() - t0
                yield item
            return
        self._thread = threading.Thread(target=self._work, name="medseg-prefetch", daemon=True)
        self._thread.start()
        try:
            for _ in range(self.n):
                t0 = time.perf_counter()
                kind, item = self._queue.get()
                self.wait_seconds += time.perf_counter() - t0
                if kind == "error":
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the producer thread (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
