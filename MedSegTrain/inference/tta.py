"""Test-time augmentation (B8): flips per axis and 90/180/270° in-plane rotations, inverted exactly.

A variant is ``x -> rot90(flip(x, F), k)`` on the trailing spatial axes ``(z, y, x)`` of an
``(N, C, z, y, x)`` tensor; its inverse undoes the rotation *before* the flip
(``y -> flip(rot90(y, -k), F)``), the order the BraTS reference code gets wrong for 4 of its 16
variants. Both are exact permutations of the voxels, so ``inverse(forward(x)) == x`` bit for bit.

The 16 variants are the 16 distinct elements of (in-plane dihedral group D4) x (axial flip):
flipping y equals rotating by 180° after flipping x, so {rotation k} x {flip x} x {flip z}
reaches every combination of flips and in-plane rotations exactly once. The list is ordered so
that a request for fewer variants takes the plain flips first (2: left-right, 4: one flip per axis,
8: every flip combination) and the rotations after.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.predict_options import MAX_TTA

# Axis names -> tensor dimensions of an (N, C, z, y, x) batch.
_DIMS = {"z": -3, "y": -2, "x": -1}
_IN_PLANE = (-2, -1)
_SWAP = {-2: -1, -1: -2}

MAX_VARIANTS_3D = MAX_TTA
MAX_VARIANTS_IN_PLANE = 8


@dataclass(frozen=True)
class TTAVariant:
    """One augmentation: flip the named axes, then rotate by ``rot90 * 90°`` in the (y, x) plane."""

    flips: tuple[str, ...] = ()
    rot90: int = 0

    @property
    def swaps_plane(self) -> bool:
        """True when the variant exchanges the y and x extents (odd multiples of 90°)."""
        return self.rot90 % 2 == 1

    @property
    def is_identity(self) -> bool:
        return not self.flips and self.rot90 % 4 == 0

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        """Apply the variant to an ``(..., z, y, x)`` tensor: ``rot90(flip(x, F), k)``.

        Computed as one flip plus a transpose view (``rot90`` by ``k`` is a flip of one or both
        in-plane axes followed, for odd ``k``, by swapping them), so a single copy is made.
        """
        return _flip_then_swap(tensor, _sym(self._flip_dims(), _rotation_flips(self.rot90)),
                               self.swaps_plane)

    def inverse(self, tensor: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`forward`: the rotation first (``rot90(y, -k)``), then the flip.

        Flipping an axis of the swapped view flips the other in-plane axis of the tensor before
        the swap (``_SWAP`` maps the flip set); again a single copy.
        """
        flips = self._flip_dims()
        if self.swaps_plane:
            flips = {_SWAP.get(d, d) for d in flips}
        return _flip_then_swap(tensor, _sym(flips, _rotation_flips(-self.rot90)), self.swaps_plane)

    def _flip_dims(self) -> set[int]:
        return {_DIMS[a] for a in self.flips}

    def describe(self) -> str:
        parts = [f"flip {''.join(self.flips)}"] if self.flips else []
        if self.rot90 % 4:
            parts.append(f"rot {90 * (self.rot90 % 4)}°")
        return " + ".join(parts) or "identity"


def _rotation_flips(k: int) -> set[int]:
    """The axes torch.rot90 flips before its transpose, for a rotation by ``k`` x 90° over (y, x)."""
    return {0: set(), 1: {-1}, 2: {-2, -1}, 3: {-2}}[k % 4]


def _sym(a: set[int], b: set[int]) -> set[int]:
    return a ^ b


def _flip_then_swap(tensor: torch.Tensor, flips: set[int], swap: bool) -> torch.Tensor:
    out = torch.flip(tensor, dims=sorted(flips)) if flips else tensor
    return out.transpose(*_IN_PLANE) if swap else out


_ALL_3D = (
    TTAVariant(),
    TTAVariant(("x",)),
    TTAVariant(("y",)),
    TTAVariant(("z",)),
    TTAVariant(("y", "x")),
    TTAVariant(("z", "x")),
    TTAVariant(("z", "y")),
    TTAVariant(("z", "y", "x")),
    TTAVariant((), 1),
    TTAVariant((), 3),
    TTAVariant(("x",), 1),
    TTAVariant(("x",), 3),
    TTAVariant(("z",), 1),
    TTAVariant(("z",), 3),
    TTAVariant(("z", "x"), 1),
    TTAVariant(("z", "x"), 3),
)


def tta_variants(count: int, in_plane_only: bool = False) -> list[TTAVariant]:
    """The first ``count`` variants (0 or 1: identity only; at most 16).

    ``in_plane_only`` drops the axial flip (2D models applied slice by slice, where reversing the
    slice order changes nothing): at most 8 distinct variants remain, and a larger ``count`` is
    capped there rather than spending time on duplicates.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_VARIANTS_3D:
        raise MedSegError(f"--tta must be a whole number from 0 to {MAX_VARIANTS_3D}, got {count!r}")
    pool = [v for v in _ALL_3D if not (in_plane_only and "z" in v.flips)]
    return pool[: max(count, 1)]
