"""DeepLabV3 (T3): ASPP = 1x1 + one atrous 3x3 per configured rate + image pooling, on the
encoder's stride-32 map, with the rates halved from the paper's stride-16 6/12/18."""

from __future__ import annotations

import torch
from torch import nn

from MedSegTrain.networks import get_network
from MedSegTrain.networks.encoder_deeplabv3 import ASPP


def _branch_convs(aspp: ASPP) -> list[nn.Conv2d]:
    return [branch[0] for branch in aspp.branches]


def test_default_aspp_runs_at_stride_32_with_rates_3_6_9() -> None:
    net = get_network("encoder_deeplabv3", spatial_dims=2, in_channels=1, out_channels=2, encoder="resnet18")
    seen: list[torch.Size] = []
    net.aspp.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    net.eval()(torch.randn(1, 1, 64, 64))
    assert seen == [torch.Size([1, 512, 2, 2])]  # resnet18's deepest map, 64 / 32
    convs = _branch_convs(net.aspp)
    assert [c.kernel_size for c in convs] == [(1, 1), (3, 3), (3, 3), (3, 3)]
    assert [c.dilation for c in convs] == [(1, 1), (3, 3), (6, 6), (9, 9)]
    assert [c.padding for c in convs[1:]] == [(3, 3), (6, 6), (9, 9)]  # same size out
    assert isinstance(net.aspp.image_pool[0], nn.AdaptiveAvgPool2d)
    assert net.aspp.project[0][0].in_channels == 5 * 256  # 1x1 + 3 atrous + pooling


def test_configured_rates_give_one_branch_each_in_3d() -> None:
    net = get_network("encoder_deeplabv3", spatial_dims=3, in_channels=1, out_channels=2,
                      encoder="efficientnet-b0", aspp_channels=8, atrous_rates=[1, 2, 4, 8])
    convs = _branch_convs(net.aspp)
    assert [c.dilation for c in convs] == [(1, 1, 1), (1, 1, 1), (2, 2, 2), (4, 4, 4), (8, 8, 8)]
    assert net.aspp.project[0][0].in_channels == 6 * 8
    assert net.aspp.branches[0][0].in_channels == 320  # efficientnet-b0's stride-32 channels


def test_image_pooling_branch_is_relu_of_a_1x1_conv_of_the_mean_broadcast_everywhere() -> None:
    torch.manual_seed(0)
    aspp = ASPP(2, 4, channels=3, rates=(2,)).eval()
    x = torch.randn(2, 4, 6, 6)
    conv = aspp.image_pool[1]
    mean = x.mean(dim=(2, 3))
    expected = torch.relu(mean @ conv.weight.view(3, 4).T + conv.bias)
    with torch.no_grad():
        pooled = aspp.image_pool(x)
    assert pooled.shape == (2, 3, 1, 1)
    torch.testing.assert_close(pooled.view(2, 3), expected)
