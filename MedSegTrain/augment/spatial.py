"""Spatial augmentation of image and mask together: exact flips, affine (rotation, zoom,
translation) and elastic deformation, batched in torch on the tensors' device.

Flips (B6, X7, L5 mirroring) are exact index reversals (``torch.flip``), never resampled.
Rotation (X7 ±π/4, C4 ±16°, L5), zoom with translation (X7: scale 0.5-1.5) and elastic
deformation (L5) of one sample become ONE sampling grid - the composed affine plus the elastic
displacement - and the whole batch is resampled by one ``grid_sample`` call: bilinear/trilinear
for images, nearest for integer label maps, linear for float (soft or region) masks.

Geometry is in voxel units about the array centre, in array axis order ``(z, y, x)``: a
positive angle in the plane ``(a, b)`` turns axis ``a`` towards axis ``b`` (as ``torch.rot90``
with ``dims=(a, b)``); the 3D rotation is ``R = R_yx @ R_zx @ R_zy``. The content is rotated,
then scaled by ``s`` (``s > 1`` enlarges it), then shifted by ``t`` voxels:
``v_out = s R v_in + t``. Voxels are assumed isotropic for the rotation (as in MONAI/TorchIO
voxel-space augmentation); resample anisotropic data first if that matters.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import MedSegError
from .base import Options, Params, Transform, applied_indices, put_back, spatial_axes
from .randomness import bernoulli, uniform

#: Rotation planes in array axes; a config's ``rotate`` list follows this order (yx, zx, zy).
ROTATION_PLANES = {2: ((0, 1),), 3: ((1, 2), (0, 2), (0, 1))}
PADDING_MODES = ("zeros", "border", "reflection")


class Flip(Transform):
    """Mirror along each configured spatial axis independently with probability ``p`` (exact)."""

    name = "flip"

    def __init__(self, p: float = 0.5, axes: list[int] | None = None) -> None:
        super().__init__(p)
        self.axes = axes

    @classmethod
    def from_options(cls, options: Options) -> Flip:
        return cls(p=options.probability(), axes=options.axes("axes", None))

    def options(self) -> dict[str, Any]:
        return {**super().options(), "axes": self.axes}

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        axes = spatial_axes(self.axes, len(shape) - 2, "augmentation flip")
        flips = bernoulli(generator, self.p, (shape[0], len(axes)), device)
        return {"applied": flips.any(dim=1), "axes": torch.tensor(axes), "flips": flips}

    def apply(
        self, images: torch.Tensor, labels: torch.Tensor | None, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        axes = params["axes"].tolist()
        flips = params["flips"].cpu()
        patterns = torch.unique(flips, dim=0)
        if len(patterns) == 1:  # every sample flips the same axes: one flip of the whole batch
            dims = [2 + axis for axis, on in zip(axes, patterns[0].tolist(), strict=True) if on]
            if not dims:
                return images, labels
            return images.flip(dims), None if labels is None else labels.flip(dims)
        out_images = images.clone()
        out_labels = None if labels is None else labels.clone()
        # One torch.flip per distinct pattern of flipped axes (at most 2**dims of them).
        for pattern in patterns:
            dims = [2 + axis for axis, on in zip(axes, pattern.tolist(), strict=True) if on]
            if dims:
                index = (flips == pattern).all(dim=1).nonzero().flatten()
                _flip_into(out_images, images, index, dims)
                if labels is not None and out_labels is not None:
                    _flip_into(out_labels, labels, index, dims)
        return out_images, out_labels


class Affine(Transform):
    """Random rotation, zoom and translation of a sample, applied with probability ``p``.

    ``rotate``: maximum |angle| in degrees, one number for every rotation plane or a list in
    plane order ``yx, zx, zy`` (missing entries 0); ``scale``: ``[low, high]`` zoom range,
    isotropic unless ``isotropic=False``; ``translate``: maximum shift as a fraction of each
    axis' size (one number or one per axis).
    """

    name = "affine"

    def __init__(
        self,
        p: float = 1.0,
        rotate: list[float] | None = None,
        scale: tuple[float, float] = (1.0, 1.0),
        isotropic: bool = True,
        translate: list[float] | None = None,
        padding: str = "zeros",
    ) -> None:
        super().__init__(p)
        self.rotate = rotate or [0.0]
        self.scale = scale
        self.isotropic = isotropic
        self.translate = translate or [0.0]
        self.padding = padding

    @classmethod
    def from_options(cls, options: Options) -> Affine:
        rotate = options.numbers("rotate", 0.0)
        if len(rotate) > 3:
            raise options.fail(f"'rotate' takes at most 3 angles (planes yx, zx, zy), got {len(rotate)}")
        return cls(
            p=options.probability(default=1.0),
            rotate=rotate,
            scale=options.interval("scale", (1.0, 1.0), minimum=1e-3),
            isotropic=options.flag("isotropic", True),
            translate=options.numbers("translate", 0.0),
            padding=options.choice("padding", "zeros", PADDING_MODES),
        )

    def options(self) -> dict[str, Any]:
        return {
            **super().options(),
            "rotate": self.rotate,
            "scale": list(self.scale),
            "isotropic": self.isotropic,
            "translate": self.translate,
            "padding": self.padding,
        }

    def max_angles(self, spatial_dims: int) -> list[float]:
        """Maximum |angle| per rotation plane for a batch with ``spatial_dims`` dims."""
        planes = len(ROTATION_PLANES[spatial_dims])
        if len(self.rotate) == 1:
            return self.rotate * planes
        if any(angle != 0 for angle in self.rotate[planes:]):
            raise MedSegError(
                f"augmentation affine: rotate {self.rotate} names planes zx/zy, which a 2D batch lacks"
            )
        return (self.rotate + [0.0] * planes)[:planes]

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        n, dims = shape[0], len(shape) - 2
        _check_spatial_dims(dims, self.name)
        limits = torch.tensor(self.max_angles(dims))
        angles = uniform(generator, (n, len(limits)), -1.0, 1.0, torch.device("cpu")) * limits
        low, high = self.scale
        scale = uniform(generator, (n, 1 if self.isotropic else dims), low, high, torch.device("cpu"))
        fractions = _per_axis(self.translate, dims, "augmentation affine: translate")
        sizes = torch.tensor(shape[2:], dtype=torch.float32)
        shift = uniform(generator, (n, dims), -1.0, 1.0, torch.device("cpu")) * fractions * sizes
        return {
            "applied": bernoulli(generator, self.p, (n,), device),
            "angles": angles.to(device),
            "scale": scale.expand(n, dims).to(device),
            "translate": shift.to(device),
        }

    def apply(
        self, images: torch.Tensor, labels: torch.Tensor | None, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return SpatialResample(self, None).apply(images, labels, _prefixed(params, "affine"))


class Elastic(Transform):
    """Smooth random elastic deformation (L5), applied with probability ``p``.

    Displacements are drawn uniformly in ``[-max_displacement, max_displacement]`` voxels (one
    number or one per axis) on a coarse grid of ``control_points`` per axis spanning the image,
    and interpolated to every voxel with cubic convolution (separably, so it stays cheap in 3D).
    Keep ``max_displacement`` below half the control-point spacing to avoid folding.
    """

    name = "elastic"

    def __init__(
        self,
        p: float = 0.5,
        control_points: int = 7,
        max_displacement: list[float] | None = None,
        padding: str = "zeros",
    ) -> None:
        super().__init__(p)
        self.control_points = control_points
        self.max_displacement = max_displacement or [7.5]
        self.padding = padding

    @classmethod
    def from_options(cls, options: Options) -> Elastic:
        return cls(
            p=options.probability(),
            control_points=options.integer("control_points", 7, minimum=4),
            max_displacement=options.numbers("max_displacement", 7.5),
            padding=options.choice("padding", "zeros", PADDING_MODES),
        )

    def options(self) -> dict[str, Any]:
        return {
            **super().options(),
            "control_points": self.control_points,
            "max_displacement": self.max_displacement,
            "padding": self.padding,
        }

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        n, dims = shape[0], len(shape) - 2
        _check_spatial_dims(dims, self.name)
        limits = _per_axis(self.max_displacement, dims, "augmentation elastic: max_displacement")
        grid_shape = (n, dims) + (self.control_points,) * dims
        draws = uniform(generator, grid_shape, -1.0, 1.0, torch.device("cpu"))
        displacement = draws * limits.view(1, dims, *([1] * dims))
        return {
            "applied": bernoulli(generator, self.p, (n,), device),
            "displacement": displacement.to(device),
        }

    def apply(
        self, images: torch.Tensor, labels: torch.Tensor | None, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return SpatialResample(None, self).apply(images, labels, _prefixed(params, "elastic"))


class SpatialResample(Transform):
    """Affine and elastic fused into one sampling grid and one ``grid_sample`` for the batch.

    A flip listed right before (``flip_first``) or right after the affine/elastic entries is
    folded in too: a sample that is resampled anyway gets its mirror as a sign in the same grid
    (an exact mirror of voxel centres, no extra interpolation), while a sample that is only
    flipped is flipped exactly with ``torch.flip``. The result equals running the steps one
    after the other, with one resampling instead of a copy per flip.
    """

    name = "spatial"

    def __init__(
        self,
        affine: Affine | None,
        elastic: Elastic | None,
        flip: Flip | None = None,
        flip_first: bool = True,
    ) -> None:
        super().__init__(1.0)
        self.affine = affine
        self.elastic = elastic
        self.flip = flip
        self.flip_first = flip_first
        paddings = {part.padding for part in (affine, elastic) if part is not None}
        if len(paddings) > 1:
            raise MedSegError(
                f"augmentation affine and elastic must use the same padding, got {sorted(paddings)}"
            )
        self.padding = paddings.pop() if paddings else "zeros"

    def parts(self) -> list[Transform]:
        """The configured transforms in their listed order."""
        resampling = [part for part in (self.affine, self.elastic) if part is not None]
        if self.flip is None:
            return resampling
        return [self.flip, *resampling] if self.flip_first else [*resampling, self.flip]

    def options(self) -> dict[str, Any]:
        return {"name": self.name, "parts": [part.options() for part in self.parts()]}

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        params: Params = {}
        applied = torch.zeros(shape[0], dtype=torch.bool, device=device)
        for part in self.parts():
            drawn = part.sample(shape, generator, device)
            applied = applied | drawn["applied"]
            params.update({f"{part.name}.{key}": value for key, value in drawn.items()})
        params["applied"] = applied
        return params

    def apply(
        self, images: torch.Tensor, labels: torch.Tensor | None, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, spatial = images.shape[0], tuple(images.shape[2:])
        no = torch.zeros(n, dtype=torch.bool, device=images.device)
        resampled = params.get("affine.applied", no) | params.get("elastic.applied", no)
        if "flip.applied" in params:
            only_flipped = params["flip.flips"] & ~resampled.view(-1, 1)
            if bool(only_flipped.any()):
                exact = {
                    "applied": only_flipped.any(dim=1),
                    "axes": params["flip.axes"],
                    "flips": only_flipped,
                }
                images, labels = Flip().apply(images, labels, exact)
        if not bool(resampled.any()):
            return images, labels
        index = applied_indices(resampled)
        matrix, offset = _identity_affine(n, len(spatial), images.device)
        if "affine.applied" in params:
            on = params["affine.applied"]
            affine_matrix, affine_offset = affine_parameters(
                params["affine.angles"], params["affine.scale"], params["affine.translate"]
            )
            matrix = torch.where(on.view(-1, 1, 1), affine_matrix, matrix)
            offset = torch.where(on.view(-1, 1), affine_offset, offset)
        displacement = None
        if "elastic.applied" in params:
            on = params["elastic.applied"].view(-1, *([1] * (len(spatial) + 1)))
            displacement = params["elastic.displacement"] * on
        if "flip.applied" in params:
            matrix, offset, displacement = _fold_flips(
                params["flip.flips"], params["flip.axes"], matrix, offset, displacement, self.flip_first
            )
        if index is not None:
            matrix, offset = matrix[index], offset[index]
            displacement = None if displacement is None else displacement[index]
        grid = sampling_grid(matrix, offset, spatial)
        if displacement is not None:
            grid = grid + elastic_field(displacement, spatial)
        return _resample_subset(images, labels, grid, index, self.padding)


def _fold_flips(
    flips: torch.Tensor,
    axes: torch.Tensor,
    matrix: torch.Tensor,
    offset: torch.Tensor,
    displacement: torch.Tensor | None,
    flip_first: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Compose per-sample mirrors ``F`` (``v -> -v`` on flipped axes) with ``v_in = A v + b + d(v)``.

    Flip before the resampling: ``v_in = F (A v + b + d(v))``; after it: ``v_in = A F v + b + d(F v)``.
    """
    n, dims = matrix.shape[0], matrix.shape[1]
    sign = torch.ones(n, dims, device=matrix.device)
    for column, axis in enumerate(axes.tolist()):
        sign[:, axis] = torch.where(flips[:, column].to(matrix.device), -1.0, 1.0)
    if flip_first:
        matrix, offset = matrix * sign.unsqueeze(2), offset * sign
        if displacement is not None:
            displacement = displacement * sign.view(n, dims, *([1] * dims))
        return matrix, offset, displacement
    matrix = matrix * sign.unsqueeze(1)
    if displacement is not None:
        # Cubic interpolation on a grid whose ends sit on the image's ends is mirror-symmetric,
        # so d(F v) is the control grid mirrored along the flipped axes.
        displacement = displacement.clone()
        for sample in range(n):
            mirrored = [2 + axis for axis in range(dims) if sign[sample, axis] < 0]
            if mirrored:
                displacement[sample] = displacement[sample].flip([dim - 1 for dim in mirrored])
    return matrix, offset, displacement


def affine_parameters(
    angles_deg: torch.Tensor, scale: torch.Tensor, translate: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map each output voxel to its input voxel: ``v_in = A v_out + b`` (centred voxel units).

    Inverse of ``v_out = diag(scale) R v_in + translate``, i.e. ``A = R^T diag(1/scale)`` and
    ``b = -A translate``. Shapes: angles (N, planes), scale and translate (N, dims).
    """
    dims = scale.shape[1]
    rotation = rotation_matrices(angles_deg, dims)
    matrix = rotation.transpose(1, 2) / scale.unsqueeze(1)
    offset = -(matrix @ translate.unsqueeze(-1)).squeeze(-1)
    return matrix, offset


def rotation_matrices(angles_deg: torch.Tensor, dims: int) -> torch.Tensor:
    """(N, dims, dims) rotations in array axis order, composed as ``R_yx @ R_zx @ R_zy`` in 3D."""
    n = angles_deg.shape[0]
    radians = angles_deg.double() * (math.pi / 180.0)
    result = torch.eye(dims, dtype=torch.float64, device=angles_deg.device).repeat(n, 1, 1)
    for plane_index, (a, b) in enumerate(ROTATION_PLANES[dims]):
        cos, sin = torch.cos(radians[:, plane_index]), torch.sin(radians[:, plane_index])
        plane = torch.eye(dims, dtype=torch.float64, device=angles_deg.device).repeat(n, 1, 1)
        plane[:, a, a], plane[:, a, b], plane[:, b, a], plane[:, b, b] = cos, -sin, sin, cos
        result = result @ plane
    return result.float()


def sampling_grid(matrix: torch.Tensor, offset: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:
    """``grid_sample`` grid (N, *spatial, dims), last axis in (x, y[, z]) order, align_corners=False.

    Normalised coordinate of input voxel ``p`` on an axis of size ``s``: ``2 (p - (s-1)/2) / s``.
    The affine is separable into one small term per output axis, so the grid is their
    broadcast sum: a single pass over the full grid (``F.affine_grid`` multiplies a full
    homogeneous base grid and is several times slower).
    """
    n, dims = matrix.shape[0], len(spatial)
    device = matrix.device
    to_grid = torch.tensor([2.0 / size for size in spatial], device=device)
    # Rows of the matrix in grid units, reordered to grid components (x, y[, z]).
    coefficients = (matrix * to_grid.view(1, dims, 1)).flip(1)
    total = (offset * to_grid).flip(1).view(n, *([1] * dims), dims)
    for axis, size in enumerate(spatial):
        centred = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
        term = centred.view(1, size, 1) * coefficients[:, :, axis].view(n, 1, dims)
        view = [n] + [1] * dims + [dims]
        view[1 + axis] = size
        total = total + term.view(view)
    return total


def elastic_field(displacement: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:
    """Dense displacement (N, *spatial, dims) in grid units from control-point displacements in voxels.

    ``displacement`` is (N, dims, *control_grid) in array axis order; cubic-convolution
    interpolation, applied one axis at a time.
    """
    dims = len(spatial)
    field = displacement.float()
    for axis, size in enumerate(spatial):
        weights = _cubic_weights(field.shape[2 + axis], size, field.device)
        field = torch.movedim(torch.movedim(field, 2 + axis, -1) @ weights.T, -1, 2 + axis)
    scales = torch.tensor([2.0 / size for size in spatial], device=field.device)
    field = field * scales.view(1, dims, *([1] * dims))
    return torch.movedim(field.flip(1), 1, -1)


def _cubic_weights(points: int, size: int, device: torch.device) -> torch.Tensor:
    """(size, points) matrix interpolating ``points`` control values spread over ``size`` voxels."""
    identity = torch.eye(points, device=device).view(points, 1, points, 1)
    curves = F.interpolate(identity, size=(size, 1), mode="bicubic", align_corners=True)
    return curves.view(points, size).T.contiguous()


def _resample_subset(
    images: torch.Tensor,
    labels: torch.Tensor | None,
    grid: torch.Tensor,
    index: torch.Tensor | None,
    padding: str,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    chosen_images = images if index is None else images[index]
    images = put_back(images, _grid_sample(chosen_images, grid, "bilinear", padding), index)
    if labels is not None:
        chosen_labels = labels if index is None else labels[index]
        mode = "bilinear" if labels.is_floating_point() else "nearest"
        labels = put_back(labels, _grid_sample(chosen_labels, grid, mode, padding), index)
    return images, labels


def _grid_sample(volume: torch.Tensor, grid: torch.Tensor, mode: str, padding: str) -> torch.Tensor:
    """``grid_sample`` in float32 (float64 for float64 input), returned in the input's dtype."""
    work = torch.float64 if volume.dtype == torch.float64 else torch.float32
    sampled = F.grid_sample(
        volume.to(work), grid.to(work), mode=mode, padding_mode=padding, align_corners=False
    )
    return sampled.to(volume.dtype)


def _flip_into(out: torch.Tensor, source: torch.Tensor, index: torch.Tensor, dims: list[int]) -> None:
    index = index.to(source.device)
    out[index] = source[index].flip(dims)


def _identity_affine(n: int, dims: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.eye(dims, device=device).repeat(n, 1, 1), torch.zeros(n, dims, device=device)


def _per_axis(values: list[float], dims: int, where: str) -> torch.Tensor:
    if len(values) == 1:
        return torch.tensor(values * dims)
    if len(values) != dims:
        raise MedSegError(f"{where} has {len(values)} values but the batch has {dims} spatial axes")
    return torch.tensor(values)


def _check_spatial_dims(dims: int, name: str) -> None:
    if dims not in ROTATION_PLANES:
        raise MedSegError(f"augmentation {name} needs 2D or 3D batches (N, C, y, x) or (N, C, z, y, x)")


def _prefixed(params: Params, prefix: str) -> Params:
    renamed = {f"{prefix}.{key}": value for key, value in params.items()}
    renamed["applied"] = params["applied"]
    return renamed
