"""The papers' networks, built by name (``get_network``) so bundles can rebuild them.

=====================  =====  ================================================================
name                   dims   paper / capability
=====================  =====  ================================================================
``mixup_unet``         2D/3D  Isaksson et al. X5: +14 filters per level, strided first op
``brats_unet``         2D/3D  Henry et al. B1–B3: dilated bottleneck, CBAM, deep supervision
``unet``               2D/3D  nnU-Net style (MONAI DynUNet), Kloenne et al. C5; see plan_unet
``msd_net``            2D/3D  Mixed-Scale Dense network, Kloenne et al. C5
``encoder_unet``       2D/3D  U-Net over EfficientNet-B0..B3 / ResNet18/34/50, Touijer et al. T3
``encoder_unetpp``     2D/3D  UNet++ over the same encoders, T3
``encoder_manet``      2D/3D  MA-Net (position + fusion attention) over the same encoders, T3
``encoder_deeplabv3``  2D/3D  DeepLabV3 (ASPP at stride 32) over the same encoders, T3
=====================  =====  ================================================================
"""

from MedSegTrain.networks import (  # noqa: F401
    brats_unet,
    encoder_deeplabv3,
    encoder_manet,
    encoder_unets,
    mixup_unet,
    msd_net,
    nnunet,
)
from MedSegTrain.networks.nnunet import plan_unet
from MedSegTrain.networks.pretrained import load_encoder_weights
from MedSegTrain.networks.registry import get_network, list_networks, register_network

__all__ = ["get_network", "list_networks", "load_encoder_weights", "plan_unet", "register_network"]
