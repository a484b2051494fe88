"""Slice pictures for the panels: windowed greyscale, segment and error overlays, PNG encoding.

Plain numpy + zlib so it works in Slicer's Python and outside it without matplotlib; the PNG bytes
become a QPixmap through ``qt_shim.pixmap_from_png``.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np


def encode_png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (height, width, 3) uint8."""
    image = np.ascontiguousarray(rgb, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {image.shape}")
    height, width, _ = image.shape
    raw = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, width * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + chunk(b"IEND", b""))


def windowed_grey(slice_2d: np.ndarray, low: float, high: float) -> np.ndarray:
    """``slice_2d`` mapped linearly from [low, high] to 0..255 (clipped) as an (H, W, 3) uint8 image."""
    values = np.asarray(slice_2d, dtype=np.float64)
    span = high - low if high > low else 1.0
    grey = np.clip((values - low) / span, 0.0, 1.0)
    grey = np.nan_to_num(grey, nan=0.0)
    channel = np.round(grey * 255.0).astype(np.uint8)
    return np.repeat(channel[:, :, None], 3, axis=2)


def blend(rgb: np.ndarray, mask: np.ndarray, color: tuple[float, float, float], opacity: float) -> np.ndarray:
    """A copy of ``rgb`` with ``color`` (0..1) blended into the pixels of ``mask``."""
    out = rgb.astype(np.float64, copy=True)
    tint = np.asarray(color, dtype=np.float64) * 255.0
    out[mask] = (1.0 - opacity) * out[mask] + opacity * tint
    return np.round(out).astype(np.uint8)


def outline(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` that touch a pixel outside it (4-neighbourhood)."""
    padded = np.pad(mask.astype(bool), 1, constant_values=False)
    interior = (padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1]
                & padded[1:-1, :-2] & padded[1:-1, 2:])
    return mask.astype(bool) & ~interior


def busiest_slice(mask_3d: np.ndarray) -> int:
    """The axial index with the most foreground voxels (the middle slice when there is none)."""
    counts = mask_3d.reshape(mask_3d.shape[0], -1).sum(axis=1)
    return int(np.argmax(counts)) if counts.any() else mask_3d.shape[0] // 2
