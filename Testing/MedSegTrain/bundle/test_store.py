"""Model bundles: bit-exact round trips (folder and zip), model.json validation, pickle refusal
without execution, zip traversal refusal, strict member building, input checks."""

from __future__ import annotations

import copy
import json
import pickle
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from MedSegTrain.bundle import FORMAT_VERSION, load_bundle, save_bundle, validate_meta
from MedSegTrain.errors import MedSegError
from MedSegTrain.networks import get_network

NET_ARGS = {"spatial_dims": 3, "in_channels": 2, "out_channels": 3, "kernel_size": [3, 3, 3],
            "strides": [1, 2, 2], "filters": [4, 8, 16]}


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Tiny forward passes: one thread avoids oversubscribing the shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _meta() -> dict[str, Any]:
    return {
        "format_version": 1, "name": "tiny", "created": "2026-01-01T00:00:00+00:00",
        "network": {"name": "unet", "args": copy.deepcopy(NET_ARGS)},
        "input": {"channels": ["T1", "T2"], "modality": "MR"},
        "labels": {"background": 0, "organ": 1, "lesion": 2},
        "output": {"activation": "softmax", "regions": None, "region_rebuild": None},
        "preprocessing": {"normalization": "zscore"},
        "inference": {"mode": "sliding_window", "patch_size": [8, 16, 16], "overlap": 0.5},
        "training": {"recipe": {"epochs": 2, "mixup_alpha": 0.5}, "validation_metrics": {"dice": 0.9}},
        "members": [{"weights": "fold0.safetensors", "fold": 0, "validation_metrics": {"dice": 0.91}},
                    {"weights": "fold1.safetensors", "fold": 1, "validation_metrics": {"dice": 0.89}}],
    }


def _networks() -> list[torch.nn.Module]:
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(get_network("unet", **NET_ARGS).eval())
    return nets


@pytest.mark.parametrize("name", ["bundle", "bundle.zip"])
def test_round_trip_is_bit_exact(tmp_path: Path, name: str) -> None:
    meta, nets = _meta(), _networks()
    original_meta = copy.deepcopy(meta)
    path = save_bundle(tmp_path / name, meta, [n.state_dict() for n in nets])
    assert meta == original_meta  # the caller's dict is untouched
    bundle = load_bundle(path)
    assert bundle.meta == original_meta
    assert bundle.n_members == 2 and bundle.channels == ["T1", "T2"] and bundle.modality == "MR"
    assert bundle.labels == {"background": 0, "organ": 1, "lesion": 2} and bundle.activation == "softmax"
    x = torch.randn(1, 2, 8, 16, 16, generator=torch.Generator().manual_seed(3))
    for i, net in enumerate(nets):
        state = bundle.state_dict(i)
        reference = net.state_dict()
        assert state.keys() == reference.keys()
        for key, tensor in reference.items():
            assert state[key].dtype == tensor.dtype and torch.equal(state[key], tensor), key
        member = bundle.build_member(i)
        assert not member.training
        with torch.no_grad():
            assert torch.equal(member(x), net(x))


def test_folder_layout_readable_by_safetensors_itself(tmp_path: Path) -> None:
    nets = _networks()
    path = save_bundle(tmp_path / "b", _meta(), [n.state_dict() for n in nets])
    assert sorted(p.name for p in path.iterdir()) == ["fold0.safetensors", "fold1.safetensors", "model.json"]
    direct = load_file(str(path / "fold1.safetensors"))
    for key, tensor in nets[1].state_dict().items():
        assert torch.equal(direct[key], tensor)
    assert json.loads((path / "model.json").read_text())["format_version"] == FORMAT_VERSION
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_defaults_are_filled_and_dtypes_kept(tmp_path: Path) -> None:
    meta = _meta()
    for key in ("format_version", "created", "members"):
        del meta[key]
    state = {"weight": torch.arange(6, dtype=torch.float16).reshape(2, 3),
             "count": torch.tensor([7], dtype=torch.int64),
             "view": torch.arange(12.0).reshape(3, 4).t()}  # non-contiguous
    bundle = load_bundle(save_bundle(tmp_path / "b.zip", meta, [state]))
    assert bundle.meta["format_version"] == 1 and bundle.meta["created"].endswith("+00:00")
    assert bundle.meta["members"] == [{"weights": "fold0.safetensors", "fold": 0, "validation_metrics": {}}]
    loaded = bundle.state_dict(0)
    for key, tensor in state.items():
        assert loaded[key].dtype == tensor.dtype and torch.equal(loaded[key], tensor)


def test_zip_with_a_top_folder_is_accepted(tmp_path: Path) -> None:
    folder = save_bundle(tmp_path / "b", _meta(), [n.state_dict() for n in _networks()])
    archive = tmp_path / "wrapped.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in folder.iterdir():
            zf.write(file, f"my-model/{file.name}")
    assert load_bundle(archive).n_members == 2


# ------------------------------------------------------------------ pickle refusal

class _Payload:
    """Unpickling this runs ``exec``: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call to torch.load or pickle loading fails the test."""

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a pickle loader was called")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)


def _malicious(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(_Payload(marker)))
    return path


def test_the_payload_really_is_malicious(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    pickle.loads(_malicious(tmp_path / "probe.pkl", marker).read_bytes())
    assert marker.read_text() == "pwned"  # so the refusals below prove something


def test_pickle_weights_named_in_model_json_are_refused(tmp_path: Path, no_unpickling: None) -> None:
    marker = tmp_path / "marker"
    folder = tmp_path / "evil"
    folder.mkdir()
    meta = _meta()
    meta["members"] = [{"weights": "fold0.pt", "fold": 0}]
    (folder / "model.json").write_text(json.dumps(meta))
    _malicious(folder / "fold0.pt", marker)
    with pytest.raises(MedSegError, match=r"fold0\.pt: pickle-based weights can execute code"):
        load_bundle(folder)
    assert not marker.exists()


def test_a_checkpoint_file_or_folder_of_them_is_refused(tmp_path: Path, no_unpickling: None) -> None:
    marker = tmp_path / "marker"
    checkpoint = _malicious(tmp_path / "model.pth", marker)
    with pytest.raises(MedSegError, match="pickle-based checkpoint can execute code"):
        load_bundle(checkpoint)
    folder = tmp_path / "run"
    folder.mkdir()
    _malicious(folder / "best.ckpt", marker)
    refused = r"model\.json is missing; found pickle-based checkpoint\(s\) best\.ckpt"
    with pytest.raises(MedSegError, match=refused):
        load_bundle(folder)
    assert not marker.exists()


def test_pickle_disguised_as_safetensors_is_refused(tmp_path: Path, no_unpickling: None) -> None:
    marker = tmp_path / "marker"
    path = save_bundle(tmp_path / "b", _meta(), [n.state_dict() for n in _networks()])
    _malicious(path / "fold1.safetensors", marker)
    bundle = load_bundle(path)
    with pytest.raises(MedSegError, match=r"fold1\.safetensors is not a valid safetensors file"):
        bundle.build_member(1)
    assert not marker.exists()
    # a torch.save file (zip + pickle) in disguise is refused the same way
    torch.save({"w": torch.zeros(1)}, path / "fold0.safetensors")
    with pytest.raises(MedSegError, match="not a valid safetensors file"):
        bundle.state_dict(0)


# ------------------------------------------------------------------ zip safety

def _zip_with(tmp_path: Path, extra: zipfile.ZipInfo, data: bytes = b"x") -> Path:
    folder = save_bundle(tmp_path / "b", _meta(), [n.state_dict() for n in _networks()])
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in folder.iterdir():
            zf.write(file, file.name)
        zf.writestr(extra, data)
    return archive


@pytest.mark.parametrize("member", ["../escaped.txt", "sub/../../escaped.txt", "/tmp/escaped.txt",
                                    "..\\escaped.txt", "C:/escaped.txt"])
def test_traversal_members_are_refused(tmp_path: Path, member: str) -> None:
    archive = _zip_with(tmp_path, zipfile.ZipInfo(member))
    with pytest.raises(MedSegError, match="would leave the bundle"):
        load_bundle(archive)
    assert not (tmp_path.parent / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()


def test_symlink_members_are_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("fold2.safetensors")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip_with(tmp_path, link, b"/etc/passwd")
    with pytest.raises(MedSegError, match="is a symbolic link"):
        load_bundle(archive)


def test_damaged_and_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(MedSegError, match="not a bundle"):
        load_bundle(tmp_path / "junk.zip")
    with pytest.raises(MedSegError, match="not found"):
        load_bundle(tmp_path / "missing")
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(MedSegError, match=r"expected one model\.json"):
        load_bundle(empty_zip)


# ------------------------------------------------------------------ validation

def test_every_missing_field_is_named() -> None:
    meta = _meta()
    for key in ("name", "labels", "inference"):
        del meta[key]
    del meta["network"]["args"]
    del meta["input"]["channels"]
    problems = validate_meta(meta, "model.json")
    for field in ("name", "labels", "inference", "network.args", "input.channels"):
        assert f"model.json: '{field}' is missing" in problems
    assert len(problems) == 5


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.update(format_version=2), "unknown format_version 2"),
    (lambda m: m.update(format_version="1"), "'format_version' must be an integer"),
    (lambda m: m.pop("format_version"), "'format_version' is missing"),
    (lambda m: m["network"].update(args=[1]), "'network.args' must be an object, got list"),
    (lambda m: m["input"].update(channels=[]), "non-empty list of channel names"),
    (lambda m: m.update(labels={"organ": 1}), "must include background 0"),
    (lambda m: m.update(labels={"background": 0, "a": 1, "b": 1}), "two names the same value"),
    (lambda m: m.update(labels={"background": 0, "a": True}), "non-negative integers"),
    (lambda m: m["output"].update(activation="softplus"), "'output.activation' must be one of"),
    (lambda m: m["output"].update(regions={"WT": []}), "'output.regions' must be null"),
    (lambda m: m["inference"].update(mode="magic"), "'inference.mode' must be one of"),
    (lambda m: m["inference"].update(patch_size=[8, 0, 16]), "'inference.patch_size' must be"),
    (lambda m: m["inference"].update(overlap=1.0), "'inference.overlap' must be a number in"),
    (lambda m: m["training"].pop("recipe"), "'training.recipe' is missing"),
    (lambda m: m.update(members=[]), "at least one weights file"),
    (lambda m: m["members"][0].update(weights="../fold0.safetensors"), "plain file name"),
    (lambda m: m["members"][0].update(weights="fold0.onnx"), "must be a .safetensors file"),
    (lambda m: m["members"][1].update(weights="fold0.safetensors"), "share a weights file"),
    (lambda m: m["members"][0].update(fold="0"), "'members[0].fold' must be an integer"),
])
def test_ill_typed_fields_are_explained(tmp_path: Path, change: Any, message: str) -> None:
    meta = _meta()
    change(meta)
    assert any(message in p for p in validate_meta(meta)), validate_meta(meta)
    folder = save_bundle(tmp_path / "b", _meta(), [n.state_dict() for n in _networks()])
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(MedSegError, match="invalid bundle") as exc:
        load_bundle(folder)
    assert message in str(exc.value) and str(folder / "model.json") in str(exc.value)


def test_valid_meta_has_no_problems() -> None:
    assert validate_meta(_meta()) == []


def test_broken_json_and_missing_weights(tmp_path: Path) -> None:
    folder = save_bundle(tmp_path / "b", _meta(), [n.state_dict() for n in _networks()])
    (folder / "fold1.safetensors").unlink()
    with pytest.raises(MedSegError, match=r"weights file fold1\.safetensors is missing"):
        load_bundle(folder)
    (folder / "model.json").write_text("{oops")
    with pytest.raises(MedSegError, match="not valid JSON"):
        load_bundle(folder)


# ------------------------------------------------------------------ members and inputs

def test_weights_that_do_not_fit_the_network_are_refused(tmp_path: Path) -> None:
    meta = _meta()
    meta["members"] = meta["members"][:1]
    other = get_network("unet", **{**NET_ARGS, "filters": [4, 8, 8]})
    bundle = load_bundle(save_bundle(tmp_path / "b", meta, [other.state_dict()]))
    with pytest.raises(MedSegError, match="do not fit network 'unet'"):
        bundle.build_member(0)
    with pytest.raises(MedSegError, match="member 3 does not exist"):
        bundle.build_member(3)


def test_check_input_and_labels(tmp_path: Path) -> None:
    bundle = load_bundle(save_bundle(tmp_path / "b", _meta(), [n.state_dict() for n in _networks()]))
    bundle.check_input(2)
    bundle.check_input(2, ["t1", "T2"])
    with pytest.raises(MedSegError, match=r"takes 2 channel\(s\) \(T1, T2\) but 1 were given"):
        bundle.check_input(1)
    with pytest.raises(MedSegError, match=r"takes channels \(T1, T2\) in this order, got \(T2, T1\)"):
        bundle.check_input(2, ["T2", "T1"])
    bundle.check_labels([0, 2])
    with pytest.raises(MedSegError, match=r"ref\.nii\.gz: label values \[5\]"):
        bundle.check_labels([0, 5], source="ref.nii.gz")


def test_save_refusals(tmp_path: Path) -> None:
    states = [n.state_dict() for n in _networks()]
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(MedSegError, match="not a bundle"):
        save_bundle(foreign, _meta(), states)
    assert [p.name for p in foreign.iterdir()] == ["cat.jpg"]
    with pytest.raises(MedSegError, match=r"2 members in model\.json but 1 state dicts"):
        save_bundle(tmp_path / "b", _meta(), states[:1])
    with pytest.raises(MedSegError, match="'step' is a int, not a tensor"):
        save_bundle(tmp_path / "b", _meta(), [states[0], {"step": 3}])
    bad = _meta()
    bad["output"]["activation"] = "relu"
    with pytest.raises(MedSegError, match="cannot save bundle"):
        save_bundle(tmp_path / "b", bad, states)
    assert not (tmp_path / "b").exists()


def test_an_existing_bundle_is_replaced(tmp_path: Path) -> None:
    nets = _networks()
    path = save_bundle(tmp_path / "b.zip", _meta(), [n.state_dict() for n in nets])
    meta = _meta()
    meta["name"] = "second"
    save_bundle(path, meta, [n.state_dict() for n in reversed(nets)])
    bundle = load_bundle(path)
    assert bundle.name == "second"
    swapped = bundle.state_dict(0)
    assert all(torch.equal(swapped[k], v) for k, v in nets[1].state_dict().items())


def test_numpy_values_tuples_and_paths_are_stored_as_json(tmp_path: Path) -> None:
    import numpy as np

    meta = _meta()
    meta["inference"]["patch_size"] = (8, 16, 16)
    meta["labels"]["lesion"] = np.int64(2)
    meta["training"]["validation_metrics"] = {"dice": np.float32(0.75), "per_case": np.array([0.5, 1.0])}
    meta["training"]["recipe"]["data"] = tmp_path / "data"
    bundle = load_bundle(save_bundle(tmp_path / "b", meta, [n.state_dict() for n in _networks()]))
    assert bundle.meta["inference"]["patch_size"] == [8, 16, 16]
    assert bundle.meta["labels"]["lesion"] == 2 and type(bundle.meta["labels"]["lesion"]) is int
    assert bundle.meta["training"]["validation_metrics"] == {"dice": 0.75, "per_case": [0.5, 1.0]}
    assert bundle.meta["training"]["recipe"]["data"] == str(tmp_path / "data")
    meta["training"]["recipe"]["callback"] = object()
    with pytest.raises(MedSegError, match="cannot store a object value"):
        save_bundle(tmp_path / "c", meta, [n.state_dict() for n in _networks()])


def test_reading_metadata_needs_no_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = save_bundle(tmp_path / "b.zip", _meta(), [n.state_dict() for n in _networks()])
    code = ("import sys; from MedSegTrain.bundle import read_meta; import MedSegTrain.data, MedSegTrain.io; "
            f"meta = read_meta({str(path)!r}); print(meta['name'], 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["tiny", "False"]
