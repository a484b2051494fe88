"""Does an image file hold all the voxel data its header declares?

ITK reads a NIfTI file that is cut short (``.nii`` or ``.nii.gz``), or whose header declares a
wider data type or more voxels than the file holds, without complaint: the missing voxels become
zeros, and a half file then scores Dice 0.52 or trains a model on blank slices. MetaImage fails,
but with a misleading "No such file or directory". This module counts the bytes that are really
there (streaming through gzip/zlib, never holding the data) against what the header asks for,
before ITK allocates anything. NRRD needs no help: ITK already refuses short NRRD data with a
clear message.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from pathlib import Path

from MedSegTrain.errors import MedSegError

_CHUNK = 1 << 20
_META_TYPES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
               "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4,
               "MET_DOUBLE": 8}


def check_complete(path: Path) -> None:
    """Raise :class:`MedSegError` naming ``path`` when its voxel data is shorter than its header says
    (NIfTI-1/2, Analyze ``.hdr``/``.img``, MetaImage ``.mha``/``.mhd``); other formats pass."""
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz", ".hdr", ".hdr.gz", ".img", ".img.gz")):
        declared, available, data_file = _nifti(path)
    elif name.endswith((".mha", ".mhd")):
        found = _metaimage(path)
        if found is None:
            return
        declared, available, data_file = found
    else:
        return
    if available < declared:
        where = path if data_file == path else f"{path} (data file {data_file})"
        raise MedSegError(f"{where}: holds {available:,} bytes (uncompressed) where its header needs "
                          f"{declared:,}; the file is truncated or its header is wrong, and is refused "
                          "rather than read with the missing voxels as zeros")


def _nifti(path: Path) -> tuple[int, int, Path]:
    """(declared bytes including the header offset, bytes present, the file holding the voxels)."""
    header = _head(path, 544)
    declared_data, offset, pair = _nifti_layout(header, path)
    data_file = path
    if pair:  # .hdr + .img (Analyze, or NIfTI 'ni1'/'ni2'): the voxels live in the image file
        data_file = _partner(path)
        offset = max(offset, 0)
    return offset + declared_data, _stream_size(data_file), data_file


def _nifti_layout(header: bytes, path: Path) -> tuple[int, int, bool]:
    """(data bytes, voxel offset, stored as a header/image pair) from a NIfTI-1/2 or Analyze header."""
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(endian + "i", header[:4])[0] == 348:
            dims = struct.unpack(endian + "8h", header[40:56])
            bitpix = struct.unpack(endian + "h", header[72:74])[0]
            offset = struct.unpack(endian + "f", header[108:112])[0]
            pair = header[344:348] != b"n+1\x00"
            return _data_bytes(dims, bitpix, path), int(offset) if math.isfinite(offset) else 0, pair
        if len(header) >= 540 and struct.unpack(endian + "i", header[:4])[0] == 540:
            bitpix = struct.unpack(endian + "h", header[14:16])[0]
            dims = struct.unpack(endian + "8q", header[16:80])
            offset = struct.unpack(endian + "q", header[168:176])[0]
            pair = header[4:8] != b"n+2\x00"
            return _data_bytes(dims, bitpix, path), offset, pair
    raise MedSegError(f"{path}: not a NIfTI/Analyze file (the header size field is neither 348 nor 540)")


def _data_bytes(dims: tuple[int, ...], bitpix: int, path: Path) -> int:
    n_dims = dims[0]
    if not 1 <= n_dims <= 7 or bitpix <= 0:
        raise MedSegError(f"{path}: malformed NIfTI header (dim[0] = {n_dims}, bitpix = {bitpix})")
    voxels = math.prod(max(int(d), 1) for d in dims[1:n_dims + 1])
    return (voxels * bitpix + 7) // 8


def _partner(header_path: Path) -> Path:
    name = header_path.name
    for old, new in ((".hdr.gz", ".img.gz"), (".hdr", ".img"), (".HDR", ".IMG")):
        if name.endswith(old):
            return header_path.with_name(name[: -len(old)] + new)
    return header_path


def _metaimage(path: Path) -> tuple[int, int, Path] | None:
    """MetaImage: (declared bytes, present bytes, data file), or None for layouts ITK checks itself."""
    fields, header_bytes = _meta_header(path)
    data_name = fields.get("elementdatafile", "")
    if not data_name or data_name.upper() == "LIST" or "%" in data_name or " " in data_name.strip():
        return None
    try:
        sizes = [int(v) for v in fields["dimsize"].split()]
        item = _META_TYPES[fields["elementtype"].upper()]
        channels = int(fields.get("elementnumberofchannels", "1"))
    except (KeyError, ValueError):
        return None  # ITK reports a malformed header itself
    declared = math.prod(sizes) * item * channels
    local = data_name.upper() == "LOCAL"
    data_file = path if local else path.parent / data_name
    start = header_bytes if local else max(int(fields.get("headersize", "0") or 0), 0)
    if not data_file.is_file():
        raise MedSegError(f"{path}: its data file {data_file} is missing")
    compressed = fields.get("compresseddata", "false").lower() == "true"
    available = _zlib_size(data_file, start, path) if compressed else data_file.stat().st_size - start
    return declared, available, data_file


def _meta_header(path: Path) -> tuple[dict[str, str], int]:
    """The ``Key = Value`` lines up to ``ElementDataFile`` (lower-cased keys) and their byte length."""
    fields: dict[str, str] = {}
    consumed = 0
    with open(path, "rb") as handle:
        for raw in iter(lambda: handle.readline(4096), b""):
            consumed += len(raw)
            match = re.match(rb"\s*([A-Za-z]+)\s*=\s*(.*?)\s*$", raw)
            if match is None:
                break
            fields[match.group(1).decode("ascii", "replace").lower()] = match.group(2).decode("latin-1")
            if match.group(1).lower() == b"elementdatafile" or consumed > 1 << 16:
                break
    return fields, consumed


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(n if not path.name.lower().endswith(".gz") else _CHUNK)
        if path.name.lower().endswith(".gz"):
            return zlib.decompressobj(31).decompress(raw, n)
        return raw
    except (OSError, zlib.error) as exc:
        raise MedSegError(f"{path}: cannot read the image header ({exc})") from None


def _stream_size(path: Path) -> int:
    """Bytes in ``path`` after decompression (``.gz``); a damaged gzip stream is refused."""
    if not path.is_file():
        raise MedSegError(f"{path}: the image data file is missing")
    if not path.name.lower().endswith(".gz"):
        return path.stat().st_size
    return _inflated_size(path, 0, 31, path)


def _zlib_size(data_file: Path, start: int, header: Path) -> int:
    """Decompressed size of the zlib stream from byte ``start`` (MetaImage ``CompressedData``)."""
    return _inflated_size(data_file, start, 15, header)


def _inflated_size(data_file: Path, start: int, wbits: int, where: Path) -> int:
    """Decompressed bytes from ``start`` on, counted in bounded memory; a stream that is cut short
    counts what it holds (the declared size then decides), concatenated gzip members all count."""
    inflater = zlib.decompressobj(wbits)
    total = 0
    try:
        with open(data_file, "rb") as handle:
            handle.seek(start)
            while block := handle.read(_CHUNK):
                while block:
                    total += len(inflater.decompress(block, _CHUNK * 8))
                    block = inflater.unconsumed_tail
                    if inflater.eof:
                        rest = inflater.unused_data
                        if wbits != 31 or not rest.strip(b"\x00"):
                            return total
                        inflater = zlib.decompressobj(wbits)
                        block = rest
    except zlib.error as exc:
        raise MedSegError(f"{where}: the compressed data is damaged ({exc})") from None
    return total
