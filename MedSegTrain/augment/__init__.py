"""Batched, seeded data augmentation in torch: mixup/CutMix (X1) and the papers' transforms.

``mixup`` and ``cutmix`` mix a batch with itself; ``build_augmentation(config)`` builds an
``Augmenter`` (spatial, intensity and CT transforms with per-transform probabilities and the
fraction of batches augmented) that works on whole batches on the tensors' device and records
what it drew. See docs/augmentation.md.
"""

from .mixup import cutmix, mixup
from .pipeline import TRANSFORMS, AugmentationRecord, Augmenter, build_augmentation
from .presets import get_preset, list_presets

__all__ = [
    "TRANSFORMS",
    "AugmentationRecord",
    "Augmenter",
    "build_augmentation",
    "cutmix",
    "get_preset",
    "list_presets",
    "mixup",
]
