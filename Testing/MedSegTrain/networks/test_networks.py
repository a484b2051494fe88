"""Every network: forward/backward, output shapes, channel plans, DS heads (X5, B1–B3, C5, T3)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from MedSegTrain.errors import MedSegError
from MedSegTrain.networks import get_network, list_networks, plan_unet
from MedSegTrain.networks.cbam import CBAM
from MedSegTrain.networks.msd_net import msd_dilations

CASES = [
    ("mixup_unet", {"spatial_dims": 2}, (2, 1, 64, 64)),
    ("mixup_unet", {"spatial_dims": 3, "levels": 3}, (2, 1, 8, 32, 32)),
    ("brats_unet", {"spatial_dims": 3, "base_filters": 4}, (1, 4, 16, 16, 16)),
    ("brats_unet", {"spatial_dims": 2, "base_filters": 4, "norm": "instance"}, (2, 4, 32, 32)),
    ("unet", {"spatial_dims": 3, "base_filters": 4, **plan_unet((8, 32, 32), (3.0, 1.0, 1.0))},
     (2, 1, 8, 32, 32)),
    ("unet", {"spatial_dims": 2, "base_filters": 4, **plan_unet((32, 32))}, (2, 1, 32, 32)),
    ("msd_net", {"spatial_dims": 2, "depth": 6}, (2, 1, 24, 24)),
    ("msd_net", {"spatial_dims": 3, "depth": 4}, (1, 1, 12, 12, 12)),
    ("encoder_unet", {"spatial_dims": 2, "encoder": "resnet18"}, (2, 1, 64, 64)),
    ("encoder_unetpp", {"spatial_dims": 2, "encoder": "efficientnet-b0"}, (2, 1, 64, 64)),
]


# MONAI's EfficientNet encoder keeps its ImageNet classifier head (for weight compatibility); unused here.
UNUSED_ENCODER_HEAD = ("encoder._conv_head.", "encoder._bn1.", "encoder._fc.")


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES,
                         ids=[f"{c[0]}-{c[1]['spatial_dims']}d" for c in CASES])
def test_forward_backward_shape(name: str, kwargs: dict, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    out_channels = 3
    net = get_network(name, in_channels=shape[1], out_channels=out_channels, **kwargs)
    x = torch.randn(*shape, requires_grad=True)
    y = net(x)
    assert y.shape == (shape[0], out_channels, *shape[2:])
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    without_grad = [n for n, p in net.named_parameters()
                    if p.grad is None and not n.startswith(UNUSED_ENCODER_HEAD)]
    assert without_grad == []


def test_registry_lists_every_paper_network() -> None:
    expected = {"mixup_unet", "brats_unet", "unet", "msd_net", "encoder_unet", "encoder_unetpp",
                "encoder_manet", "encoder_deeplabv3"}
    assert set(list_networks()) >= expected


def test_unknown_network_and_argument_are_clear_errors() -> None:
    with pytest.raises(MedSegError, match="unknown network 'vnet'"):
        get_network("vnet")
    with pytest.raises(MedSegError, match="does not take filterz"):
        get_network("mixup_unet", filterz=3)
    with pytest.raises(MedSegError, match="spatial_dims must be 2 or 3"):
        get_network("msd_net", spatial_dims=4)


def test_mixup_unet_filters_grow_by_14_with_one_strided_conv_per_level() -> None:
    net = get_network("mixup_unet", spatial_dims=2, in_channels=1, out_channels=2, base_filters=16)
    convs = [stage[0] for stage in net.encoder]
    assert [c.out_channels for c in convs] == [16, 30, 44, 58, 72]
    assert all(c.stride == (2, 2) for c in convs)  # the first operation is already strided
    assert all(sum(isinstance(m, nn.Conv2d) for m in stage.modules()) == 1 for stage in net.encoder)
    assert all(isinstance(stage[1], nn.PReLU) for stage in net.encoder)
    # X5: element-wise dropout 0.5 (plain TensorFlow dropout), not channel-wise Dropout2d
    assert all(type(stage[2]) is nn.Dropout and stage[2].p == 0.5 for stage in net.encoder)


def test_brats_unet_plan_and_deep_supervision_heads() -> None:
    net = get_network("brats_unet", in_channels=4, out_channels=3, deep_supervision=True)
    assert net.widths == [48, 96, 192, 384]
    dilated = [m for m in net.dilated.modules() if isinstance(m, nn.Conv3d)]
    assert [c.dilation for c in dilated] == [(2, 2, 2), (2, 2, 2)]
    # bottleneck = dilated output concatenated with the last stage: 2 x 384 channels
    assert net.aux_heads[0].in_channels == 768
    assert len(net.aux_heads) == 4  # after the bottleneck and the three non-final decoder stages
    lowest_decoder_convs = [m for m in net.decoder[0].modules() if isinstance(m, nn.Conv3d)]
    assert len(lowest_decoder_convs) == 1
    small = get_network("brats_unet", in_channels=4, out_channels=3, base_filters=4, deep_supervision=True)
    x = torch.randn(1, 4, 16, 16, 16)
    outputs = small.train()(x)
    assert isinstance(outputs, list) and len(outputs) == 5
    assert all(o.shape == (1, 3, 16, 16, 16) for o in outputs)
    assert small.eval()(x).shape == (1, 3, 16, 16, 16)


def test_brats_unet_attention_adds_cbam_to_every_encoder_stage() -> None:
    net = get_network("brats_unet", base_filters=4, attention=True)
    assert all(isinstance(stage[-1], CBAM) for stage in net.encoder)


def test_cbam_is_identity_scaled_by_half_when_weights_are_zero() -> None:
    cbam = CBAM(2, 8)
    for p in cbam.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 8, 5, 5)
    # sigmoid(0) = 0.5 for both attentions -> x * 0.25
    assert torch.allclose(cbam(x), 0.25 * x)


def test_unet_deep_supervision_returns_list_in_training_only() -> None:
    net = get_network("unet", spatial_dims=2, in_channels=1, out_channels=2, base_filters=4,
                      deep_supervision=True, deep_supr_num=2, **plan_unet((32, 32)))
    outputs = net.train()(torch.randn(2, 1, 32, 32))
    assert isinstance(outputs, list) and len(outputs) == 3
    assert net.eval()(torch.randn(2, 1, 32, 32)).shape == (2, 2, 32, 32)


def test_plan_unet_keeps_coarse_axis_until_spacings_meet() -> None:
    # 3 mm slices vs 1 mm in-plane: pool in-plane first (spacing 1 -> 2), then all axes (3 <= 2 * 2).
    plan = plan_unet((16, 32, 32), (3.0, 1.0, 1.0))
    assert plan["strides"] == [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2]]
    assert plan["kernel_size"][0] == [1, 3, 3]
    # isotropic 40x56x40: three poolings leave 5x7x5 (>= 4), a fourth would go below 4
    assert plan_unet((40, 56, 40), (1.0, 1.0, 1.0))["strides"] == [[1, 1, 1]] + [[2, 2, 2]] * 3


def test_msd_net_dilations_cycle_and_dense_channels() -> None:
    assert msd_dilations(12, 10) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2]
    net = get_network("msd_net", spatial_dims=2, in_channels=2, out_channels=3, depth=7, width=2)
    assert [layer[0].in_channels for layer in net.layers] == [2 + 2 * i for i in range(7)]
    assert net.head.in_channels == 2 + 7 * 2
    assert [layer[0].dilation for layer in net.layers][:3] == [(1, 1), (2, 2), (3, 3)]


def test_unetpp_has_nested_nodes() -> None:
    net = get_network("encoder_unetpp", spatial_dims=2, in_channels=1, out_channels=2, encoder="resnet18")
    # 5 encoder levels -> nodes X[i][j] with j >= 1 and i + j <= 4: 4 + 3 + 2 + 1 = 10
    assert len(net.nodes) == 10


def test_cbam_channel_attention_uses_the_average_and_the_max() -> None:
    """Woo et al.: channel weights sigmoid(MLP(avg) + MLP(max)). With a ones MLP (hidden 1, no bias)
    and a zero spatial convolution (weight 0.5 everywhere), the output is, by hand,
    x * sigmoid(relu(sum_c avg_c) + relu(sum_c max_c)) * 0.5. Kills ``net-cbam-max-branch``."""
    cbam = CBAM(2, 2)
    for p in cbam.parameters():
        nn.init.zeros_(p)
    for conv in (cbam.mlp[0], cbam.mlp[2]):
        nn.init.ones_(conv.weight)
    x = torch.tensor([[[[1.0, 3.0], [0.0, 0.0]], [[2.0, -1.0], [0.5, 0.5]]]])  # avg 1, 0.5; max 3, 2
    weight = torch.sigmoid(torch.tensor(1.5 + 5.0))
    torch.testing.assert_close(cbam(x), x * weight * 0.5)
