"""The folded integer model: its config, input format, tensor scales and per-layer integer
constants, and its on-disk form (one ``.npz`` per layer plus ``index.json`` with the marker
``"kind": "bvit-integer-model"``), written whole or not at all."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hw.opfile import write_npz
from hw.outfiles import atomic_dir

from ..config import BinaryViTConfig

INDEX_NAME = "index.json"
#: the marker of an integer-model directory (its index.json), next to ``format_version``
INTEGER_KIND = "bvit-integer-model"
INTEGER_FORMAT_VERSION = 1


class IntegerModelError(ValueError):
    """An integer-model directory is missing, foreign or damaged (exit code 2 in the CLI)."""


@dataclass(frozen=True)
class InputFormat:
    """The network's integer input: q = clamp(round(x * 2**frac) + zero, lo, hi), value
    x = (q - zero) * 2**-frac. Digits: frac 3, zero 8, q = the raw pixel 0..16 (exact)."""

    frac: int
    zero: int
    lo: int
    hi: int

    def to_dict(self) -> dict:
        return {"frac": self.frac, "zero": self.zero, "lo": self.lo, "hi": self.hi}


#: the digits images are pixel / 8 - 1 with pixels 0..16: the raw pixels are the exact input
DIGITS_INPUT = InputFormat(frac=3, zero=8, lo=0, hi=16)


@dataclass
class IntegerBinaryViT:
    """All integer constants of an integer-only BinaryViT.

    ``layers``: layer name ("stem", "stages.S.blocks.B", "stages.S.merge", "head") -> constant
    name -> int64 / uint8 / int8 array (model/INTEGER.md lists them). ``frac``: tensor name ->
    frac bits of its power-of-two scale. ``meta``: how it was folded (calibration set, headroom).
    """

    config: BinaryViTConfig
    input: InputFormat
    frac: dict[str, int]
    layers: dict[str, dict[str, np.ndarray]]
    meta: dict = field(default_factory=dict)

    # ---- files ---------------------------------------------------------------------------
    def save(self, directory) -> Path:
        """Write ``directory`` (one ``<index>_<layer>.npz`` per layer, ``index.json``) whole or
        not at all; an existing directory is replaced only if it is an integer-model directory
        or empty."""
        directory = Path(directory)
        with atomic_dir(directory, owned=is_integer_dir, what="integer model folder") as tmp:
            write_integer_files(self, tmp)
        return directory

    @classmethod
    def load(cls, directory) -> "IntegerBinaryViT":
        """Read a directory written by :meth:`save`; IntegerModelError naming the file if it is
        not one."""
        directory = Path(directory)
        index = read_index(directory)
        try:
            cfg = BinaryViTConfig.from_dict(index["config"])
            inp = InputFormat(**index["input"])
            layers = {}
            for entry in index["layers"]:
                path = directory / entry["file"]
                if Path(entry["file"]).name != entry["file"] or not path.is_file():
                    raise IntegerModelError(f"{directory / INDEX_NAME}: layer {entry['name']} "
                                            f"lists {entry['file']}, which is not in the folder")
                with np.load(path, allow_pickle=False) as z:
                    layers[entry["name"]] = {k: z[k] for k in z.files}
            frac = {str(k): int(v) for k, v in index["frac"].items()}
        except IntegerModelError:
            raise
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise IntegerModelError(f"{directory}: not a readable integer model ({type(exc).__name__}"
                                    f": {exc}); write it again with fold_model(...).save()") from None
        return cls(cfg, inp, frac, layers, index.get("meta", {}))


def _file_name(index: int, name: str) -> str:
    return f"{index:02d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.npz"


def write_integer_files(int_model: IntegerBinaryViT, directory) -> dict:
    """Write the layer files and index.json of ``int_model`` into the (existing) ``directory``;
    returns the index. Used by :meth:`IntegerBinaryViT.save` and the integer golden export."""
    directory = Path(directory)
    entries = []
    for i, (name, consts) in enumerate(int_model.layers.items()):
        fname = _file_name(i, name)
        write_npz(directory / fname, consts)
        entries.append({"name": name, "file": fname,
                        "arrays": {k: {"shape": list(np.shape(v)), "dtype": str(np.asarray(v).dtype)}
                                   for k, v in consts.items()}})
    index = {"format_version": INTEGER_FORMAT_VERSION, "kind": INTEGER_KIND,
             "config": int_model.config.to_dict(), "input": int_model.input.to_dict(),
             "frac": int_model.frac, "meta": int_model.meta, "layers": entries}
    (directory / INDEX_NAME).write_text(json.dumps(index, indent=1) + "\n")
    return index


def read_index(directory) -> dict:
    """The parsed, marker-checked index.json of an integer-model directory."""
    path = Path(directory) / INDEX_NAME
    if not path.is_file():
        raise IntegerModelError(f"{path} not found: {directory} is not an integer-model folder")
    try:
        index = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise IntegerModelError(f"{path} is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(index, dict) or index.get("kind") != INTEGER_KIND:
        raise IntegerModelError(f"{path} has no \"kind\": \"{INTEGER_KIND}\" marker")
    if index.get("format_version") != INTEGER_FORMAT_VERSION:
        raise IntegerModelError(f"{path} has format_version {index.get('format_version')!r}, "
                                f"this code reads {INTEGER_FORMAT_VERSION}")
    return index


def is_integer_dir(directory) -> bool:
    """True if ``directory`` holds an index.json with the integer-model marker (so a save may
    replace it)."""
    try:
        read_index(directory)
    except (IntegerModelError, OSError):
        return False
    return True


__all__ = ["DIGITS_INPUT", "INTEGER_KIND", "InputFormat", "IntegerBinaryViT",
           "IntegerModelError", "is_integer_dir", "read_index",
           "write_integer_files"]
