"""Pretrained encoder weights from a local file the user names (T3) — nothing is downloaded.

Accepted: ``.safetensors``, or a torch file read with ``weights_only=True`` (plain tensors only;
it cannot execute code). Keys may be bare (``conv1.weight``) or carry a prefix such as
``encoder.``/``backbone.``/``module.``; ImageNet weights with 3 input channels are adapted to
the network's input channels by averaging (the usual trick for grey-scale medical images).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from MedSegTrain.errors import MedSegError

_PREFIXES = ("module.", "encoder.", "backbone.", "net.encoder.", "model.")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read tensors from ``path`` (safetensors, or torch with weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise MedSegError(f"pretrained weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable or unsafe content
        raise MedSegError(f"cannot read pretrained weights {path}: {exc}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MedSegError(f"pretrained weights {path} do not hold a flat dict of tensors")
    return state


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def load_encoder_weights(model: nn.Module, path: Path) -> dict[str, int]:
    """Copy matching tensors from ``path`` into ``model.encoder``; returns counts of what matched.

    Raises when nothing matches, so a wrong file is not silently ignored.
    """
    encoder = getattr(model, "encoder", None)
    if encoder is None:
        raise MedSegError(f"network {type(model).__name__} has no encoder to load pretrained weights into")
    source = {_strip(k): v for k, v in read_state_dict(path).items()}
    target = encoder.state_dict()
    loaded, adapted, skipped = 0, 0, 0
    for key, value in target.items():
        new = source.get(key)
        if new is None:
            skipped += 1
            continue
        if new.shape != value.shape and new.ndim == value.ndim and new.shape[0] == value.shape[0] \
                and new.shape[2:] == value.shape[2:] and new.ndim > 2:
            new = new.mean(dim=1, keepdim=True).expand_as(value) * (new.shape[1] / value.shape[1])
            adapted += 1
        if new.shape != value.shape:
            skipped += 1
            continue
        target[key] = new.to(value.dtype)
        loaded += 1
    if loaded == 0:
        raise MedSegError(f"no tensor in {path} matches the encoder of {type(model).__name__} "
                          f"(expected keys like {next(iter(target))!r})")
    encoder.load_state_dict(target)
    return {"loaded": loaded, "adapted_input": adapted, "missing": skipped}
