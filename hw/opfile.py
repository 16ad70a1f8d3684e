"""The on-disk form of ops: bit packing, reproducible ``.npz`` files and the golden directory's
manifest. One op is one ``.npz`` (written by each op class's ``save``, read by
:func:`hw.ops.load_op`); bits are packed with ``numpy.packbits(..., bitorder="little")`` along K,
so element k of a row is bit (k % 8) of byte (k // 8), and padding bits past K are zero.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

#: version of the ``.npz`` op files and of ``manifest.json``
FORMAT_VERSION = 1
#: the index file of a golden directory
MANIFEST_NAME = "manifest.json"


class JobError(ValueError):
    """An op (or an op file) is inconsistent; the message says what and how to fix it."""


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a (rows, K) array of 0/1 into (rows, ceil(K/8)) uint8, LSB first."""
    bits = np.asarray(bits)
    if bits.ndim != 2:
        raise JobError(f"pack_bits expects a 2-D 0/1 array, got shape {bits.shape}")
    if bits.size and not np.isin(bits, (0, 1)).all():
        raise JobError("pack_bits expects only 0 and 1")
    return np.packbits(bits.astype(np.uint8), axis=1, bitorder="little")


def unpack_bits(packed: np.ndarray, k: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: (rows, ceil(K/8)) uint8 -> (rows, K) uint8 of 0/1."""
    packed = np.asarray(packed, dtype=np.uint8)
    if packed.ndim != 2 or packed.shape[1] != (k + 7) // 8:
        raise JobError(
            f"packed bits have shape {packed.shape}, expected (rows, {(k + 7) // 8}) for K={k}")
    bits = np.unpackbits(packed, axis=1, bitorder="little")
    if bits[:, k:].any():
        raise JobError(f"packed bits have ones past K={k}; padding bits must be zero")
    return bits[:, :k]


def write_npz(path, arrays: dict) -> None:
    """Write arrays as an uncompressed .npz with fixed zip timestamps, so the same arrays give
    the same bytes (numpy.savez stamps the current time into every entry)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def read_manifest(directory) -> list[dict]:
    """The op entries of a golden directory's ``manifest.json`` (each with an absolute ``path``)."""
    directory = Path(directory)
    mpath = directory / MANIFEST_NAME
    if not mpath.is_file():
        raise JobError(f"{mpath} not found; write a golden directory with "
                       "`python -m model export --checkpoint CKPT --images N --out DIR`")
    manifest = json.loads(mpath.read_text())
    ops = manifest.get("ops")
    if not isinstance(ops, list):
        raise JobError(f"{mpath}: no 'ops' list")
    for op in ops:
        for key in ("name", "kind", "file"):
            if key not in op:
                raise JobError(f"{mpath}: op entry {op!r} has no {key!r}")
        op["path"] = str(directory / op["file"])
    return ops
