"""The bundle store: a folder (or a .zip of one) with ``model.json`` and one safetensors file per member.

Reading decodes ``model.json`` here, once, and hands it to :func:`MedSegTrain.bundle.meta.parse_meta`;
writing stores the document :class:`~MedSegTrain.bundle.meta.BundleMeta` lays out.

Safety: weights are read only as safetensors, which cannot execute code; pickle-based files
(``.pt``, ``.pth``, ``.ckpt`` ...) are refused without being opened. Zip bundles are never
extracted to disk: member names are checked (no absolute paths, no ``..``, no symlinks, no
duplicates, no encryption) and the two kinds of member needed are read in memory.

This module imports torch only when weights are read or a network is built (lazy imports in
the functions that need it), so the Slicer module can list bundles before torch is installed.
"""

from __future__ import annotations

import copy
import datetime as _dt
import stat
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from MedSegTrain import limits
from MedSegTrain.bundle.meta import BundleMeta, MemberInfo, parse_meta, plain_json, thaw
from MedSegTrain.bundle.schema import (
    FORMAT_VERSION,
    MODEL_JSON,
    PICKLE_SUFFIXES,
    WEIGHTS_SUFFIX,
    validate_meta,
)
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import atomic_output_dir, atomic_output_file, parse_json, strict_json

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class ModelBundle:
    """A loaded, validated bundle. Weights are read when a member is built, not before.

    ``info`` is the parsed :class:`~MedSegTrain.bundle.meta.BundleMeta` that code reads; ``meta``
    is the ``model.json`` document as stored (plain JSON), for tools that rewrite a bundle.
    """

    def __init__(self, meta: dict[str, Any], info: BundleMeta, path: Path, reader: _BundleReader) -> None:
        self.meta = meta
        self.info = info
        self.path = path
        self._reader = reader

    @property
    def name(self) -> str:
        """The bundle's name."""
        return self.info.name

    @property
    def labels(self) -> dict[str, int]:
        """Label name -> value (background 0 included)."""
        return self.info.labels

    @property
    def channels(self) -> list[str]:
        """Input channel names, in order."""
        return list(self.info.channels)

    @property
    def modality(self) -> str:
        """Input modality (``CT``, ``MR`` ...)."""
        return self.info.modality

    @property
    def activation(self) -> str:
        """``softmax`` (one label per voxel) or ``sigmoid`` (overlapping regions)."""
        return self.info.activation

    @property
    def regions(self) -> dict[str, list[int]] | None:
        """Region name -> label values for sigmoid region outputs, else None."""
        return self.info.regions

    @property
    def n_members(self) -> int:
        """Number of ensemble members (folds)."""
        return self.info.n_members

    @property
    def preprocessing(self) -> Any:
        """The :class:`MedSegTrain.preprocessing.pipeline.PreprocessingSpec` to replay."""
        return self.info.preprocessing_spec()

    def with_window(self, preset: Any) -> ModelBundle:
        """The same bundle replaying ``preset`` (a ``WindowPreset``) instead of its own window: for a
        window chosen on screen, so the image is windowed once, as the user sees it."""
        preprocessing = {**thaw(self.info.preprocessing), "window": preset.to_dict()}
        meta = {**copy.deepcopy(self.meta), "preprocessing": copy.deepcopy(preprocessing)}
        return ModelBundle(meta, self.info.with_preprocessing(preprocessing), self.path, self._reader)

    def check_input(self, n_channels: int, channel_names: Sequence[str] | None = None) -> None:
        """Raise :class:`MedSegError` before any work when the input does not fit the model."""
        expected = self.channels
        if n_channels != len(expected):
            raise MedSegError(f"bundle {self.path}: the model takes {len(expected)} channel(s) "
                              f"({', '.join(expected)}) but {n_channels} were given")
        if channel_names is not None:
            given = [str(name) for name in channel_names]
            if [n.casefold() for n in given] != [n.casefold() for n in expected]:
                raise MedSegError(f"bundle {self.path}: the model takes channels ({', '.join(expected)}) "
                                  f"in this order, got ({', '.join(given)})")

    def check_labels(self, values: Iterable[int], source: str = "reference") -> None:
        """Raise when ``source`` holds label values the model does not know."""
        unknown = sorted(set(int(v) for v in values) - set(self.labels.values()))
        if unknown:
            raise MedSegError(f"{source}: label values {unknown} are not among the model's labels "
                              f"{self.labels} (bundle {self.path})")

    def state_dict(self, index: int) -> dict[str, Any]:
        """The weights of member ``index`` as torch tensors (safetensors only)."""
        member = self._member(index)
        data = self._reader.read(member.weights)
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            state = load(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise MedSegError(f"bundle {self.path}: {member.weights} is not a valid safetensors file "
                              f"({exc})") from None
        _refuse_non_finite_weights(state, f"bundle {self.path}: {member.weights}")
        return state

    def build_member(self, index: int, device: Any = "cpu") -> Any:
        """Member ``index`` as a network in eval mode on ``device``, weights loaded strictly."""
        from MedSegTrain.networks import get_network  # torch: only when a network is built

        network = self.info.network
        model = get_network(network.name, **network.kwargs())
        state = self.state_dict(index)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise MedSegError(f"bundle {self.path}: weights {self._member(index).weights} do not fit "
                              f"network '{network.name}' ({_first_lines(exc)})") from None
        return model.to(device).eval()

    def _member(self, index: int) -> MemberInfo:
        if not 0 <= index < self.n_members:
            raise MedSegError(f"bundle {self.path}: member {index} does not exist "
                              f"(it has {self.n_members})")
        return self.info.members[index]

    def __repr__(self) -> str:
        return f"ModelBundle({self.name!r}, path={str(self.path)!r}, members={self.n_members})"


# ----------------------------------------------------------------------------- reading

class _BundleReader:
    """Reads named files of a bundle folder or zip (names already validated)."""

    def read(self, name: str) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError


class _FolderReader(_BundleReader):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def read(self, name: str) -> bytes:
        path = self.folder / name
        if path.is_symlink() or not path.is_file():
            raise MedSegError(f"bundle {self.folder}: weights file {name} is missing")
        return path.read_bytes()


class _ZipReader(_BundleReader):
    def __init__(self, zip_path: Path, prefix: str, names: set[str]) -> None:
        self.zip_path, self.prefix, self.names = zip_path, prefix, names

    def read(self, name: str) -> bytes:
        member = self.prefix + name
        if member not in self.names:
            raise MedSegError(f"bundle {self.zip_path}: weights file {name} is missing from the zip")
        try:
            with zipfile.ZipFile(self.zip_path) as archive:
                return archive.read(member)
        except (zipfile.BadZipFile, OSError) as exc:
            raise MedSegError(f"bundle {self.zip_path}: cannot read {member} ({exc})") from None


def _refuse_non_finite_weights(state: Mapping[str, Any], where: str) -> None:
    """NaN or infinite weights make every output NaN, which the argmax turns into an all-background
    label map without a word: refused, naming the tensors."""
    import torch

    bad = [name for name, tensor in state.items()
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise MedSegError(f"{where}: {len(bad)} weight tensor(s) hold NaN or infinite values "
                          f"({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}); the model is damaged")


def load_bundle(path: str | Path) -> ModelBundle:
    """Open and validate a bundle folder or ``.zip``; weights are read later, on demand."""
    path = Path(path)
    if not path.exists():
        raise MedSegError(f"bundle {path}: not found")
    if path.is_dir():
        return _load_folder(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise MedSegError(f"bundle {path}: a pickle-based checkpoint can execute code when loaded and is "
                          "refused; a bundle is a folder or .zip with model.json and safetensors weights")
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    raise MedSegError(f"bundle {path}: not a bundle (expected a folder or a .zip with {MODEL_JSON})")


def _load_folder(folder: Path) -> ModelBundle:
    json_path = folder / MODEL_JSON
    if not json_path.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        hint = (f"; found pickle-based checkpoint(s) {', '.join(pickles)}, which are refused because "
                "loading them can execute code") if pickles else ""
        raise MedSegError(f"bundle {folder}: {MODEL_JSON} is missing{hint}")
    limits.check("json_bytes", json_path.stat().st_size, str(json_path))
    meta, info = _parse_meta(json_path.read_bytes(), str(json_path))
    for member in info.members:
        weights = folder / member.weights
        if weights.is_symlink() or not weights.is_file():
            raise MedSegError(f"bundle {folder}: weights file {member.weights} is missing")
    return ModelBundle(meta, info, folder, _FolderReader(folder))


def safe_zip_names(archive: zipfile.ZipFile, zip_path: Path) -> list[str]:
    """The member names of ``archive``, after refusing absolute paths, ``..``, links and encryption."""
    names: list[str] = []
    total = 0
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise MedSegError(f"bundle {zip_path}: refused, member '{name}' would leave the bundle "
                              "(absolute path or '..')")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise MedSegError(f"bundle {zip_path}: refused, member '{name}' is a symbolic link")
        if info.flag_bits & 0x1:
            raise MedSegError(f"bundle {zip_path}: refused, member '{name}' is encrypted")
        total += info.file_size
        limits.check("zip_bytes", total, f"bundle {zip_path} (unpacked size)")
        limits.check("zip_members", len(names) + 1, f"bundle {zip_path} (member count)")
        if name in names:
            raise MedSegError(f"bundle {zip_path}: refused, member '{name}' appears twice")
        names.append(name)
    return names


def _load_zip(zip_path: Path) -> ModelBundle:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = safe_zip_names(archive, zip_path)
            candidates = [n for n in names if n == MODEL_JSON or
                          (n.endswith("/" + MODEL_JSON) and n.count("/") == 1)]
            if len(candidates) != 1:
                raise MedSegError(f"bundle {zip_path}: expected one {MODEL_JSON} at the top of the zip "
                                  f"(or in one top folder), found {len(candidates)}")
            json_name = candidates[0]
            limits.check("json_bytes", archive.getinfo(json_name).file_size, f"{zip_path}:{json_name}")
            meta, info = _parse_meta(archive.read(json_name), f"{zip_path}:{json_name}")
    except zipfile.BadZipFile as exc:
        raise MedSegError(f"bundle {zip_path}: damaged zip ({exc})") from None
    prefix = json_name[: -len(MODEL_JSON)]
    for member in info.members:
        if prefix + member.weights not in names:
            raise MedSegError(f"bundle {zip_path}: weights file {member.weights} is missing from the zip")
    return ModelBundle(meta, info, zip_path, _ZipReader(zip_path, prefix, set(names)))


def _parse_meta(data: bytes, where: str) -> tuple[dict[str, Any], BundleMeta]:
    """The one place a stored ``model.json`` is decoded: the JSON document and its parsed form."""
    meta = parse_json(data, where)
    return meta, parse_meta(meta, where)


# ----------------------------------------------------------------------------- writing

def save_bundle(path: str | Path, meta: BundleMeta | Mapping[str, Any],
                state_dicts: Sequence[Mapping[str, Any]]) -> Path:
    """Write a bundle folder, or a ``.zip`` when ``path`` ends so; atomically; returns ``path``.

    ``meta`` is a :class:`BundleMeta` (from :func:`MedSegTrain.bundle.meta.build_meta`) or a
    mapping in the ``model.json`` layout; ``format_version`` and ``created`` are filled in
    when absent, and ``members`` (``fold<i>.safetensors``) when absent. Tuples, numpy scalars and
    arrays and paths are stored as their JSON equivalents. ``meta`` is not modified.
    An existing bundle at ``path`` is replaced; any other existing file or folder is refused.
    """
    path = Path(path)
    meta = plain_json(meta.to_dict() if isinstance(meta, BundleMeta) else meta)
    meta.setdefault("format_version", FORMAT_VERSION)
    meta.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if "members" not in meta:
        meta["members"] = [{"weights": f"fold{i}{WEIGHTS_SUFFIX}", "fold": i, "validation_metrics": {}}
                           for i in range(len(state_dicts))]
    problems = validate_meta(meta, f"{path} (model.json)")
    if not problems and len(meta["members"]) != len(state_dicts):
        problems.append(f"{path}: {len(meta['members'])} members in model.json but {len(state_dicts)} "
                        "state dicts were given")
    if problems:
        raise MedSegError("cannot save bundle:\n  " + "\n  ".join(problems))
    try:
        parse_meta(meta, f"{path} (model.json)")
    except MedSegError as exc:
        raise MedSegError(f"cannot save bundle: {exc}") from None
    files = {MODEL_JSON: (strict_json(meta) + "\n").encode("utf-8")}
    for member, state in zip(meta["members"], state_dicts, strict=True):
        files[member["weights"]] = _safetensors_bytes(state, member["weights"])
    _refuse_foreign_target(path)
    try:
        if path.suffix.lower() == ".zip":
            with atomic_output_file(path) as tmp:
                _write_zip(tmp, files)
        else:
            with atomic_output_dir(path) as tmp:
                tmp.chmod(0o755)
                for name, data in files.items():
                    (tmp / name).write_bytes(data)
    except OSError as exc:
        raise MedSegError(f"bundle {path}: cannot be written ({exc.strerror or exc})") from None
    return path


def _safetensors_bytes(state: Mapping[str, Any], name: str) -> bytes:
    import torch
    from safetensors.torch import save

    tensors = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise MedSegError(f"cannot save {name}: state dict entry '{key}' is a {type(value).__name__}, "
                              "not a tensor")
        tensors[key] = value.detach().to("cpu").contiguous().clone()
    return save(tensors, metadata={"format": "pt"})


def _write_zip(target: Path, files: Mapping[str, bytes]) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED if name == MODEL_JSON else zipfile.ZIP_STORED
            archive.writestr(info, data)


def _refuse_foreign_target(path: Path) -> None:
    if not path.exists():
        return
    if path.is_dir():
        if any(path.iterdir()) and not (path / MODEL_JSON).is_file():
            raise MedSegError(f"bundle {path}: folder exists and is not a bundle; choose another path")
    elif path.suffix.lower() != ".zip" or not zipfile.is_zipfile(path):
        raise MedSegError(f"bundle {path}: a file that is not a bundle zip exists there")


def _first_lines(exc: BaseException, limit: int = 3) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[:limit])
    return text if len(text) < 600 else text[:600] + " ..."


def read_meta(path: str | Path) -> dict[str, Any]:
    """Only the validated ``model.json`` document of a bundle (no torch needed), as stored."""
    return load_bundle(path).meta


def read_info(path: str | Path) -> BundleMeta:
    """Only the parsed metadata of a bundle (no torch needed), e.g. for the Slicer panel."""
    return load_bundle(path).info


__all__ = ["ModelBundle", "load_bundle", "read_info", "read_meta", "safe_zip_names", "save_bundle"]
