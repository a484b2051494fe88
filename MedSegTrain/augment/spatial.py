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
        for column, axis in enumerate(params["axes"].tolist()):
            chosen = params["flips"][:, column]
            if not bool(chosen.any()):
                continue
            index = applied_indices(chosen)
            images = _flip_samples(images, index, axis + 2)
            if labels is not None:
                labels = _flip_samples(labels, index, axis + 2)
        return images, labels


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
    """Affine and elastic fused into one sampling grid and one ``grid_sample`` for the batch."""

    name = "spatial"

    def __init__(self, affine: Affine | None, elastic: Elastic | None) -> None:
        super().__init__(1.0)
        self.affine = affine
        self.elastic = elastic
        parts = [part for part in (affine, elastic) if part is not None]
        paddings = {part.padding for part in parts}
        if len(paddings) > 1:
            raise MedSegError(
                f"augmentation affine and elastic must use the same padding, got {sorted(paddings)}"
            )
        self.padding = paddings.pop() if paddings else "zeros"

    def options(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parts": [part.options() for part in (self.affine, self.elastic) if part is not None],
        }

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        params: Params = {}
        applied = torch.zeros(shape[0], dtype=torch.bool, device=device)
        for prefix, part in (("affine", self.affine), ("elastic", self.elastic)):
            if part is not None:
                drawn = part.sample(shape, generator, device)
                applied = applied | drawn["applied"]
                params.update({f"{prefix}.{key}": value for key, value in drawn.items()})
        params["applied"] = applied
        return params

    def apply(
        self, images: torch.Tensor, labels: torch.Tensor | None, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not bool(params["applied"].any()):
            return images, labels
        index = applied_indices(params["applied"])
        spatial = tuple(images.shape[2:])
        matrix, offset = _identity_affine(params["applied"].shape[0], len(spatial), images.device)
        if "affine.applied" in params:
            on = params["affine.applied"]
            affine_matrix, affine_offset = affine_parameters(
                params["affine.angles"], params["affine.scale"], params["affine.translate"]
            )
            matrix = torch.where(on.view(-1, 1, 1), affine_matrix, matrix)
            offset = torch.where(on.view(-1, 1), affine_offset, offset)
        if index is not None:
            matrix, offset = matrix[index], offset[index]
        grid = sampling_grid(matrix, offset, spatial)
        if "elastic.applied" in params:
            on = params["elastic.applied"]
            displacement = params["elastic.displacement"] * on.view(-1, *([1] * (len(spatial) + 1)))
            if index is not None:
                displacement = displacement[index]
            grid = grid + elastic_field(displacement, spatial)
        return _resample_subset(images, labels, grid, index, self.padding)


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

    Built by broadcasting one small per-axis term at a time (much faster than
    ``F.affine_grid``, which multiplies a full homogeneous base grid).
    Normalised coordinate of input voxel ``p`` on an axis of size ``s``: ``2 (p - (s-1)/2) / s``.
    """
    n, dims = matrix.shape[0], len(spatial)
    device = matrix.device
    centred = [torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2 for size in spatial]
    grid = torch.empty((n, *spatial, dims), dtype=torch.float32, device=device)
    for component, axis in enumerate(reversed(range(dims))):
        scale = 2.0 / spatial[axis]
        total = (offset[:, axis] * scale).view(n, *([1] * dims))
        for source in range(dims):
            view = [n] + [1] * dims
            view[1 + source] = spatial[source]
            term = (matrix[:, axis, source] * scale).view(n, 1) * centred[source].view(1, -1)
            total = total + term.view(view)
        grid[..., component] = total
    return grid


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
    warped = F.grid_sample(
        chosen_images.float(), grid, mode="bilinear", padding_mode=padding, align_corners=False
    ).to(images.dtype)
    images = put_back(images, warped, index)
    if labels is not None:
        chosen_labels = labels if index is None else labels[index]
        if labels.is_floating_point():
            warped_labels = F.grid_sample(
                chosen_labels, grid, mode="bilinear", padding_mode=padding, align_corners=False
            )
        else:
            warped_labels = F.grid_sample(
                chosen_labels.float(), grid, mode="nearest", padding_mode=padding, align_corners=False
            ).to(labels.dtype)
        labels = put_back(labels, warped_labels, index)
    return images, labels


def _flip_samples(batch: torch.Tensor, index: torch.Tensor | None, dim: int) -> torch.Tensor:
    if index is None:
        return batch.flip(dim)
    batch[index] = batch[index].flip(dim)
    return batch


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
