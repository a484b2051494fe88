"""Where a member's forward pass runs: PyTorch eager (``torch``) or an OpenVINO compile (``openvino``).

Why a second engine: on a CPU most of a prediction is 3D convolutions, and OpenVINO's CPU plugin
runs them about twice as fast as PyTorch eager at float32 with the same logits (to ~4e-5 on
nnU-Net's PlainConvUNet; figures and command in docs/performance.md). Nothing is exported to
disk and nothing is downloaded: each member is traced once per input shape with
``torch.jit.trace`` (one forward), converted in memory with ``openvino.convert_model`` and
compiled for the CPU. ``openvino`` is an optional dependency (``pip install
'MedSegTrain[openvino]'``), imported only when this backend is chosen.
"""

from __future__ import annotations

import contextlib
import ctypes
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from MedSegTrain.errors import MedSegError

Backend = Literal["torch", "openvino"]
BACKENDS: tuple[str, ...] = ("torch", "openvino")
_OPENVINO_PRECISION = {"float32": "f32", "bfloat16": "bf16"}


def check_backend(backend: str, device: torch.device, precision: str) -> None:
    """Refuse a backend this machine or this precision cannot serve, naming the option."""
    if backend not in BACKENDS:
        raise MedSegError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "openvino":
        if device.type != "cpu":
            raise MedSegError(f"--backend openvino runs on the CPU only; got --device {device}")
        if precision not in _OPENVINO_PRECISION:
            raise MedSegError(f"--backend openvino offers --precision float32 or bfloat16, got {precision}")
        _openvino()


def wrap_members(members: Sequence[nn.Module], backend: str, precision: str) -> list[nn.Module]:
    """``members`` unchanged for ``torch``; each behind an :class:`OpenVinoMember` for ``openvino``."""
    if backend == "torch":
        return list(members)
    return [OpenVinoMember(member, precision) for member in members]


class OpenVinoMember(nn.Module):
    """A member whose forward runs an OpenVINO compile of it, one sample per inference request.

    The member is traced, converted and compiled once per sample shape (and stream count); the
    converted graph is dropped as soon as it is compiled and the freed heap handed back to the
    system, so a pass holds the torch weights and one compiled copy, no more. A batch of one runs
    as one request on all threads (latency mode); a larger batch is spread over
    ``min(threads, batch)`` streams of one thread each, run asynchronously (throughput mode). On
    a 2-core CPU the two modes are equally fast when the machine is idle, but streams never wait
    for each other, so with other work on the machine (the viewer, a second job) the throughput
    mode keeps its speed where two threads synchronising on every layer lose up to half of it
    (figures in docs/inference.md). Takes and returns torch tensors like the member (the first
    output when the member returns a list or tuple, as the runner uses), so the window, TTA and
    blending code is the same.
    """

    def __init__(self, member: nn.Module, precision: str = "float32") -> None:
        super().__init__()
        if precision not in _OPENVINO_PRECISION:
            raise MedSegError(f"--backend openvino offers --precision float32 or bfloat16, got {precision}")
        self.member = _FirstOutput(member.eval())
        self.precision = precision
        self._compiled: dict[tuple[tuple[int, ...], int], Any] = {}

    def compile_for(self, batch: torch.Tensor) -> Any:
        """The compiled model serving ``batch`` (traced, converted and compiled on first use)."""
        shape = tuple(batch.shape[1:])
        threads = torch.get_num_threads()
        streams = max(1, min(threads, batch.shape[0]))
        key = (shape, streams)
        if key not in self._compiled:
            ov = _openvino()
            config = {"INFERENCE_PRECISION_HINT": _OPENVINO_PRECISION[self.precision],
                      "INFERENCE_NUM_THREADS": threads}
            if streams == 1:
                config["PERFORMANCE_HINT"] = "LATENCY"
            else:
                config.update(PERFORMANCE_HINT="THROUGHPUT", NUM_STREAMS=streams)
            self._compiled[key] = ov.Core().compile_model(self._convert(batch), "CPU", config)
            _return_freed_heap()
        return self._compiled[key]

    def _convert(self, batch: torch.Tensor) -> Any:
        """The OpenVINO model of the member for one sample of ``batch`` (traced for that shape)."""
        example = batch[:1].detach().float().contiguous()
        try:
            with torch.no_grad(), warnings.catch_warnings():
                # traced for this exact shape, so shape-dependent branches baked in are right
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                traced = torch.jit.trace(self.member, example, check_trace=False)
            return _openvino().convert_model(traced, example_input=example)
        except Exception as exc:  # any tracing or conversion failure has the same remedy
            raise MedSegError(f"--backend openvino cannot convert this network "
                              f"({type(exc).__name__}: {exc}); use --backend torch") from None

    def release(self) -> None:
        """Free the compiled graphs and their buffers (the runner calls this after the member's pass;
        a later forward compiles again)."""
        self._compiled.clear()
        _return_freed_heap()

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, K, ...)`` for ``batch`` ``(N, C, ...)``, as float32."""
        compiled = self.compile_for(batch)
        samples = batch.detach().float().numpy()
        n = samples.shape[0]
        if n == 1:
            return torch.from_numpy(np.array(compiled(np.ascontiguousarray(samples))[0]))
        # Plain infer requests, no Python callback: a callback runs on OpenVINO's stream threads
        # and needs the GIL, and a compiled model freed while one is still finishing deadlocks
        # (its destructor joins those threads holding the GIL). Request i % streams serves
        # sample i, so a stream starts its next sample as soon as its own last one is read.
        requests = [compiled.create_infer_request() for _ in range(min(n, torch.get_num_threads()))]
        out: list[np.ndarray] = []
        for i in range(n + len(requests)):
            request = requests[i % len(requests)]
            if i >= len(requests):
                request.wait()
                out.append(request.get_output_tensor(0).data.copy())
            if i < n:
                request.start_async(np.ascontiguousarray(samples[i:i + 1]))
        return torch.from_numpy(np.concatenate(out))


class _FirstOutput(nn.Module):
    """The full-resolution logits only (deep-supervision members return a list), for tracing."""

    def __init__(self, member: nn.Module) -> None:
        super().__init__()
        self.net = member

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = self.net(batch)
        return out[0] if isinstance(out, (list, tuple)) else out


def _openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise MedSegError("--backend openvino needs the openvino package: "
                          "pip install 'MedSegTrain[openvino]'") from None
    return openvino


def _return_freed_heap() -> None:
    """Hand memory freed by a conversion back to the system (glibc keeps it in its heap otherwise,
    and the peak resident memory of the pass that follows would count it); a no-op elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
