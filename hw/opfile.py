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
#: the ``"kind"`` of a golden directory's manifest.json (next to ``"format_version"``): the
#: marker that says `python -m model export` wrote the directory (and may replace it)
GOLDEN_KIND = "bvit-golden"
_EXPORT_HINT = "`python -m model export --checkpoint CKPT --images N --out DIR`"


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
    packed = np.asarray(packed)
    if packed.dtype != np.uint8:
        raise JobError(f"packed bits must be uint8, got {packed.dtype}")
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


def write_manifest(directory, ops: list[dict], **fields) -> dict:
    """Write ``directory/manifest.json``: ``format_version`` and ``kind`` (the golden marker),
    then ``fields``, then the op entries (each needs ``name``, ``kind``, ``file``); return the
    manifest written."""
    manifest = {"format_version": FORMAT_VERSION, "kind": GOLDEN_KIND, **fields, "ops": ops}
    (Path(directory) / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def load_manifest(directory) -> dict:
    """The parsed ``manifest.json`` of a golden directory, checked for this project's marker
    (``"kind": GOLDEN_KIND``) and ``format_version``; JobError naming the file otherwise.
    A UTF-8 byte-order mark at the start is accepted (some editors add one)."""
    mpath = Path(directory) / MANIFEST_NAME
    if not Path(directory).is_dir():
        raise JobError(f"golden directory {directory} does not exist or is not a folder; write "
                       f"one with {_EXPORT_HINT}")
    if not mpath.is_file():
        raise JobError(f"{mpath} not found; write a golden directory with {_EXPORT_HINT}")
    try:
        text = mpath.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JobError(f"{mpath} is not UTF-8 text (byte {exc.start}); re-export it with "
                       f"{_EXPORT_HINT}") from None
    except OSError as exc:
        raise JobError(f"{mpath} cannot be read ({exc.strerror})") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobError(f"{mpath} is not valid JSON ({exc.msg} at line {exc.lineno} column "
                       f"{exc.colno}); re-export it with {_EXPORT_HINT}") from None
    except RecursionError:
        raise JobError(f"{mpath} is nested too deeply to be a golden manifest") from None
    if not isinstance(manifest, dict):
        raise JobError(f"{mpath} holds a JSON {type(manifest).__name__}, not an object; it is "
                       f"not a golden manifest (re-export it with {_EXPORT_HINT})")
    if manifest.get("kind") != GOLDEN_KIND:
        raise JobError(f"{mpath} has no \"kind\": \"{GOLDEN_KIND}\" marker: it is not a golden "
                       f"manifest or was written by an older export; re-export it with "
                       f"{_EXPORT_HINT}")
    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise JobError(f"{mpath} has format_version {version!r}, this code reads "
                       f"{FORMAT_VERSION}; re-export it with {_EXPORT_HINT}")
    return manifest


def is_golden_dir(directory) -> bool:
    """True if ``directory`` holds a manifest.json with this project's golden marker and format
    version: only such a directory may be replaced by a new export."""
    try:
        load_manifest(directory)
    except JobError:
        return False
    return True


def read_manifest(directory) -> list[dict]:
    """The op entries of a golden directory's ``manifest.json`` (each with an absolute ``path``);
    JobError naming the file for a missing, malformed, foreign or old manifest, or an op entry
    without a plain ``name``/``kind``/``file`` or whose file is missing."""
    directory = Path(directory)
    mpath = directory / MANIFEST_NAME
    manifest = load_manifest(directory)
    ops = manifest.get("ops")
    if not isinstance(ops, list):
        raise JobError(f"{mpath}: no 'ops' list; re-export it with {_EXPORT_HINT}")
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise JobError(f"{mpath}: op entry {i} is a JSON {type(op).__name__}, not an object")
        for key in ("name", "kind", "file"):
            if not isinstance(op.get(key), str) or not op[key]:
                raise JobError(f"{mpath}: op entry {i} has no {key!r} string")
        name = op["file"]
        if Path(name).name != name or name in (".", ".."):
            raise JobError(f"{mpath}: op entry {i} file {name!r} is not a plain file name in the "
                           "golden directory")
        if not (directory / name).is_file():
            raise JobError(f"{mpath}: op entry {i} lists {name}, which is not in {directory}; "
                           f"re-export it with {_EXPORT_HINT}")
        op["path"] = str(directory / name)
    return ops
