"""The OpenVINO backend gives the PyTorch member's logits (float32), compiles once per shape, and
reaches ``predict_volume`` and ``medsegtrain predict``; options it cannot serve are refused by name."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.backends import OpenVinoMember, check_backend, wrap_members
from MedSegTrain.inference.members import SliceWise
from MedSegTrain.io import Volume
from MedSegTrain.networks import get_network

pytest.importorskip("openvino", reason="the openvino extra is part of the dev install")


def _image() -> list[Volume]:
    rng = np.random.default_rng(5)
    return [Volume(rng.normal(size=(9, 11, 13)).astype(np.float32), (0.8, 1.1, 2.5), (3.0, -4.0, 5.0),
                   (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))]


def _unet(spatial_dims: int, deep_supervision: bool = False) -> torch.nn.Module:
    torch.manual_seed(3)
    return get_network("unet", spatial_dims=spatial_dims, in_channels=2, out_channels=3,
                       kernel_size=(3, 3, 3), strides=(1, 2, 2), filters=(4, 8, 16),
                       deep_supervision=deep_supervision, deep_supr_num=1).eval()


@pytest.mark.parametrize("case", ["3d", "2d slice-wise", "deep supervision"])
def test_float32_logits_equal_pytorch(case):
    """An OpenVINO compile computing anything else (a wrong output of a multi-output net, the
    batch reordered, a lower precision) differs by far more than 1e-4."""
    net = {"3d": lambda: _unet(3), "2d slice-wise": lambda: SliceWise(_unet(2)),
           "deep supervision": lambda: _unet(3, deep_supervision=True)}[case]()
    batch = torch.randn(2, 2, 8, 16, 12)
    with torch.inference_mode():
        expected = net(batch)
        expected = expected[0] if isinstance(expected, (list, tuple)) else expected
        got = OpenVinoMember(net)(batch)
    assert got.shape == expected.shape
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)
    assert float((expected - expected.mean()).abs().max()) > 1e-2  # the comparison is not trivial


def test_one_compile_per_sample_shape(monkeypatch):
    """Batches of 1 and 3 share a compile; another window size gets its own."""
    member = OpenVinoMember(_unet(3))
    traced = []
    real_trace = torch.jit.trace
    monkeypatch.setattr(torch.jit, "trace", lambda *a, **k: traced.append(1) or real_trace(*a, **k))
    with torch.inference_mode():
        member(torch.randn(1, 2, 8, 8, 8))
        member(torch.randn(3, 2, 8, 8, 8))
        member(torch.randn(2, 2, 8, 16, 8))
    assert len(traced) == 2


def test_wrap_members_keeps_torch_members_and_wraps_for_openvino():
    nets = [_unet(3), _unet(3)]
    assert wrap_members(nets, "torch", "float32") == nets
    wrapped = wrap_members(nets, "openvino", "bfloat16")
    assert [type(m) for m in wrapped] == [OpenVinoMember] * 2
    assert all(m.precision == "bfloat16" and m.member.net is n for m, n in zip(wrapped, nets, strict=True))


@pytest.mark.parametrize(("backend", "device", "precision", "message"), [
    ("tensorrt", "cpu", "float32", "--backend must be one of torch, openvino"),
    ("openvino", "cuda", "float32", "runs on the CPU only"),
    ("openvino", "cpu", "float16", "float32 or bfloat16, got float16"),
])
def test_unservable_options_are_refused(backend, device, precision, message):
    with pytest.raises(MedSegError, match=message):
        check_backend(backend, torch.device(device), precision)


def test_a_missing_openvino_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` raise ImportError
    with pytest.raises(MedSegError, match=r"pip install 'MedSegTrain\[openvino\]'"):
        check_backend("openvino", torch.device("cpu"), "float32")
    check_backend("torch", torch.device("cpu"), "float32")  # torch needs no extra


def test_predict_volume_with_openvino_equals_torch(make_bundle):
    from MedSegTrain.inference.predictor import predict_volume

    path, _nets = make_bundle("ov", n_members=2, labels={"background": 0, "a": 1, "b": 2})
    channels = _image()
    ours = predict_volume([path], channels, tta=4, probabilities=True, backend="openvino")
    reference = predict_volume([path], channels, tta=4, probabilities=True, backend="torch")
    np.testing.assert_allclose(ours.probabilities, reference.probabilities, atol=1e-5)
    np.testing.assert_array_equal(ours.label.array, reference.label.array)
    assert ours.n_predictions == reference.n_predictions == 8


def test_bfloat16_on_a_cpu_without_native_bf16_is_refused(make_bundle, monkeypatch):
    from MedSegTrain.inference import predictor

    path, _nets = make_bundle("bf16")
    monkeypatch.setattr(predictor, "cpu_has_bf16", lambda: False)
    with pytest.raises(MedSegError, match="bfloat16 on a CPU needs native bf16"):
        predictor.predict_volume([path], _image(), device="cpu", precision="bfloat16")


def test_bfloat16_on_a_cpu_with_native_bf16_stays_close_to_float32(make_bundle):
    from MedSegTrain.inference.predictor import cpu_has_bf16, predict_volume

    if not cpu_has_bf16():
        pytest.skip("this CPU has no native bf16")
    path, _nets = make_bundle("bf16", labels={"background": 0, "a": 1, "b": 2})
    channels = _image()
    exact = predict_volume([path], channels, probabilities=True, device="cpu")
    for backend in ("torch", "openvino"):
        fast = predict_volume([path], channels, probabilities=True, device="cpu", precision="bfloat16",
                              backend=backend)
        difference = np.abs(fast.probabilities - exact.probabilities).max()
        assert 0 < difference < 0.05, backend  # bf16 keeps 8 mantissa bits: close, but not float32


def test_release_frees_the_compiles_and_a_later_forward_compiles_again():
    member = OpenVinoMember(_unet(3))
    batch = torch.randn(1, 2, 8, 8, 8)
    with torch.inference_mode():
        first = member(batch)
        assert len(member._compiled) == 1
        member.release()
        assert member._compiled == {}
        np.testing.assert_array_equal(member(batch).numpy(), first.numpy())


_CREATE_AND_FREE = """
import torch
from MedSegTrain.inference.backends import OpenVinoMember
torch.manual_seed(0)
net = torch.nn.Conv3d(2, 3, 3, padding=1).eval()
batch = torch.randn(3, 2, 4, 4, 4)
with torch.inference_mode():
    expected = net(batch)
    for _ in range(12):
        got = OpenVinoMember(net)(batch)  # compiled, run over streams, freed at once
        assert torch.allclose(got, expected, atol=1e-5)
print("done")
"""


def test_a_member_freed_right_after_a_streamed_batch_does_not_deadlock():
    """Run in a child process with a deadline, since a deadlock holds the GIL and no in-process
    timeout could fire. Mutation caught: an ``AsyncInferQueue`` with a Python callback, whose last
    callback still wants the GIL while the compiled model's destructor joins its threads (it hung
    within a few iterations here; 200 iterations pass with plain requests)."""
    import subprocess

    result = subprocess.run([sys.executable, "-c", _CREATE_AND_FREE], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
