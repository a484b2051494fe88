"""MA-Net (T3): the position attention block is a real spatial self-attention; fusion attention sums
both scales' channel weights; the blocks sit where Fan et al. put them."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from MedSegTrain.networks import get_network
from MedSegTrain.networks.encoder_manet import MultiScaleFusionAttention, PositionAttention


def _centre_only(conv: nn.Conv2d, weight: torch.Tensor) -> None:
    """Make a 3x3 convolution act on each position alone, with ``weight`` (cout, cin) at the centre."""
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 1, 1] = weight
        conv.bias.zero_()


def _identity_attention(channels: int, pab_channels: int) -> PositionAttention:
    pab = PositionAttention(2, channels, pab_channels)
    _centre_only(pab.value, torch.eye(channels))
    _centre_only(pab.out, torch.eye(channels))
    return pab


def test_pab_by_hand_rows_are_softmax_over_positions_and_the_input_is_added() -> None:
    """Two positions, q_i = channel 0, k_j = channel 1, V and out the identity:
    S = softmax_j(q_i k_j) = [[1/4, 3/4], [1/10, 9/10]] and y = x + V S^T."""
    pab = _identity_attention(2, 1)
    with torch.no_grad():
        pab.query.weight.copy_(torch.tensor([1.0, 0.0]).view(1, 2, 1, 1))
        pab.key.weight.copy_(torch.tensor([0.0, 1.0]).view(1, 2, 1, 1))
        pab.query.bias.zero_()
        pab.key.bias.zero_()
    ln3 = math.log(3.0)
    x = torch.tensor([[1.0, 2.0], [0.0, ln3]]).view(1, 2, 1, 2)
    torch.testing.assert_close(pab.attention_map(x), torch.tensor([[[0.25, 0.75], [0.1, 0.9]]]))
    expected = torch.tensor([[1 + 1.75, 2 + 1.9], [0.75 * ln3, ln3 + 0.9 * ln3]]).view(1, 2, 1, 2)
    torch.testing.assert_close(pab(x), expected)


def test_pab_is_permutation_equivariant_and_global() -> None:
    """With position-wise convolutions, permuting the positions permutes the output the same way
    (attention ignores where a position is), and one position's change reaches every other one."""
    torch.manual_seed(0)
    pab = _identity_attention(4, 3)
    x = torch.randn(1, 4, 3, 5)
    perm = torch.randperm(15)
    permuted = x.flatten(2)[..., perm].reshape(x.shape)
    with torch.no_grad():
        torch.testing.assert_close(pab(permuted).flatten(2), pab(x).flatten(2)[..., perm])
        changed = x.clone()
        changed[..., 0, 0] += 3.0
        far = (pab(changed) - pab(x))[..., 2, 4]
    assert far.abs().max() > 1e-3


def test_mfab_weights_the_high_level_map_by_the_sum_of_both_channel_attentions() -> None:
    """se_high = sigmoid(0) = 0.5 and se_low = sigmoid(20) = 1: the high-level half is 1.5 x the
    upsampled high-level features, the skip half is the skip itself."""
    torch.manual_seed(0)
    block = MultiScaleFusionAttention(2, 8, 4, 6, reduction=2).eval()
    block.fuse = nn.Identity()
    with torch.no_grad():
        for p in block.se_high.parameters():
            p.zero_()
        for p in block.se_low.parameters():
            p.zero_()
        block.se_low[-2].bias.fill_(20.0)
    x, skip = torch.randn(1, 8, 2, 2), torch.randn(1, 4, 4, 4)
    with torch.no_grad():
        out = block(x, skip)
        high = F.interpolate(block.high(x), size=(4, 4), mode="nearest")
    torch.testing.assert_close(out[:, :4], 1.5 * high)
    torch.testing.assert_close(out[:, 4:], skip)


def test_pab_sits_on_the_bottleneck_and_one_mfab_per_skip() -> None:
    net = get_network("encoder_manet", spatial_dims=2, in_channels=1, out_channels=2, encoder="resnet18",
                      pab_channels=16)
    assert net.pab.query.in_channels == 512 and net.pab.query.out_channels == 16  # resnet18: stride 32
    assert [b.se_low[1].in_channels for b in net.blocks] == [256, 128, 64, 64]  # strides 16, 8, 4, 2
    assert [b.fuse[-1][0].out_channels for b in net.blocks] == [256, 128, 64, 32]
