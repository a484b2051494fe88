"""TTA variants (B8): exact inverses, 16 distinct variants, forward equals hand-written numpy ops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.tta import tta_variants


@pytest.mark.parametrize("shape", [(2, 3, 5, 6, 6), (1, 2, 4, 5, 7)])
def test_every_variant_inverts_exactly(shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    for variant in tta_variants(16):
        assert torch.equal(variant.inverse(variant.forward(x)), x), variant.describe()


def test_sixteen_distinct_variants_and_identity_first():
    x = torch.arange(4 * 6 * 6, dtype=torch.float32).reshape(1, 1, 4, 6, 6)
    outputs = [v.forward(x).flatten().tolist() for v in tta_variants(16)]
    assert len({tuple(o) for o in outputs}) == 16
    assert tta_variants(16)[0].is_identity
    assert [v.is_identity for v in tta_variants(0)] == [True]
    assert len(tta_variants(1)) == 1


def test_forward_matches_numpy_flip_then_rotation():
    x = np.random.default_rng(1).normal(size=(1, 1, 3, 4, 5)).astype(np.float32)
    by_name = {v.describe(): v for v in tta_variants(16)}
    # flip x then rotate by 90° in the (y, x) plane: np.rot90 over the last two axes
    expected = np.rot90(np.flip(x, axis=-1), k=1, axes=(-2, -1))
    got = by_name["flip x + rot 90°"].forward(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got, expected)
    expected = np.flip(x, axis=(-3, -2, -1))
    np.testing.assert_array_equal(by_name["flip zyx"].forward(torch.from_numpy(x)).numpy(), expected)


def test_inverse_undoes_rotation_before_flip():
    """The wrong order (flip back first, then rotate back) is not an inverse: the test can fail."""
    x = torch.randn(1, 1, 2, 5, 5, generator=torch.Generator().manual_seed(2))
    variant = next(v for v in tta_variants(16) if v.flips == ("x",) and v.rot90 == 1)
    y = variant.forward(x)
    wrong = torch.rot90(torch.flip(y, dims=[-1]), k=-1, dims=(-2, -1))
    assert not torch.equal(wrong, x)
    assert torch.equal(variant.inverse(y), x)


def test_in_plane_only_has_eight_without_axial_flip():
    variants = tta_variants(16, in_plane_only=True)
    assert len(variants) == 8
    assert all("z" not in v.flips for v in variants)
    x = torch.arange(36, dtype=torch.float32).reshape(1, 1, 1, 6, 6)
    assert len({tuple(v.forward(x).flatten().tolist()) for v in variants}) == 8


@pytest.mark.parametrize("count", [-1, 17, 2.5, True])
def test_bad_counts_are_refused(count):
    with pytest.raises(MedSegError, match="--tta"):
        tta_variants(count)
