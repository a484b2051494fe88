"""Fine-tuning from a bundle (Touijer et al., T5): the start weights and the encoder freezer.

* ``transfer.init_bundle`` starts a training run from a bundle's weights (tensors whose names and
  shapes match; a head for a different label set starts fresh): :func:`initial_weights`;
* ``transfer.freeze_encoder`` freezes the encoder part of the networks that have one: its
  parameters get no gradient and its batch-norm layers keep the source's running statistics
  (:func:`encoder_freezer`).

:func:`MedSegTrain.training.api.train` uses both; the multi-site chain that calls ``train`` once
per site lives one floor up, in :mod:`MedSegTrain.workflows.transfer_chain`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from MedSegTrain.bundle import load_bundle
from MedSegTrain.errors import MedSegError

ENCODER_PREFIXES = ("encoder.", "net.encoder.", "net.input_block.", "net.downsamples.")


def initial_weights(bundle_path: Path) -> dict[str, torch.Tensor]:
    """The first member's weights of a bundle (safetensors; nothing executable is loaded)."""
    bundle = load_bundle(Path(bundle_path))
    return {k: v.detach().clone() for k, v in bundle.build_member(0, device="cpu").state_dict().items()}


def encoder_freezer(prefixes: Sequence[str] = ENCODER_PREFIXES) -> Callable[[torch.nn.Module], None]:
    """A function that freezes the encoder of a model.

    Its parameters stop receiving gradients, and its normalisation layers with running statistics
    (batch norm) normalise with the statistics they were loaded with and never update them, in
    training mode too: the encoder stays exactly the source model's.
    """
    prefixes = tuple(prefixes)

    def freeze(model: torch.nn.Module) -> None:
        hits = 0
        for name, param in model.named_parameters():
            if name.startswith(prefixes):
                param.requires_grad_(False)
                hits += 1
        if not hits:
            raise MedSegError(
                f"transfer.freeze_encoder: {type(model).__name__} has no recognised encoder "
                f"(parameter names starting with {', '.join(prefixes)})"
            )
        for name, module in model.named_modules():
            if (
                f"{name}.".startswith(prefixes)
                and isinstance(module, torch.nn.modules.batchnorm._NormBase)
                and module.track_running_stats
            ):
                module.register_forward_pre_hook(_keep_running_statistics)

    return freeze


def _keep_running_statistics(module: torch.nn.Module, args: Any) -> None:
    # model.train() switches every layer to training mode each epoch; a frozen encoder's norm
    # layers go back to evaluation mode right before each forward pass.
    module.training = False
