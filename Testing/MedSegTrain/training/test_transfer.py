"""T5 fine-tuning from a bundle: the encoder freezer keeps a pretrained encoder exactly as loaded.

The chain that fine-tunes site after site is tested in ``Testing/MedSegTrain/workflows/``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.training.transfer import encoder_freezer


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], keys: Any = None) -> bool:
    keys = list(a) if keys is None else list(keys)
    return all(torch.equal(a[k], b[k]) for k in keys)


def test_freezer_keeps_batch_norm_statistics_of_a_pretrained_encoder() -> None:
    """The transfer recipe's encoder_unet has batch norm: its running statistics must not drift."""
    from MedSegTrain.networks import get_network

    torch.manual_seed(0)
    model = get_network("encoder_unet", spatial_dims=2, in_channels=1, out_channels=3, encoder="resnet18",
                        decoder_channels=[16, 8, 8, 8, 8])
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    encoder_freezer()(model)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        model.train()  # as the engine does every epoch
        x, y = torch.randn(2, 1, 32, 32) * 3 + 1, torch.randint(0, 3, (2, 32, 32))
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = model.state_dict()
    encoder = [k for k in before if k.startswith(("encoder.", "net.encoder."))]
    assert any(k.endswith("running_mean") for k in encoder)
    assert _same(before, after, encoder)
    assert not _same(before, after, [k for k in before if k not in encoder])
    with pytest.raises(MedSegError, match="has no recognised encoder"):
        encoder_freezer()(get_network("msd_net", spatial_dims=2, in_channels=1, out_channels=2, depth=4))
