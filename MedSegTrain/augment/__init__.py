"""Batched, seeded data augmentation in torch: mixup/CutMix (X1) and the papers' transforms.

``mixup`` and ``cutmix`` mix a batch with itself; ``build_augmentation(config)`` builds an
``Augmenter`` (spatial, intensity and CT transforms with per-transform probabilities) that
works on whole batches on the tensors' device. See docs/augmentation.md.
"""

from .mixup import cutmix, mixup, to_soft_targets

__all__ = ["cutmix", "mixup", "to_soft_targets"]
