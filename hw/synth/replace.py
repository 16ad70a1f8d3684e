"""Reviewed rerun records moved over the committed ones (``python -m hw synth --replace FILE
--from DIR``).

A rerun (:mod:`hw.synth.rerun`) writes its records to ``DIR/<file name>`` in the order they
finish. Replacing puts each of them in place of the committed record of the same measurement
(:func:`hw.synth.rerun.measurement_of`), in the committed file's order, and keeps every
committed record that has no rerun (for example the other core's, when only one core's records
were measured again). The file is written whole or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..outfiles import read_jsonl, write_text_atomic
from .rerun import RerunError, measurement_of


def replaced_records(committed: list[dict], rerun: list[dict]) -> tuple[list[dict], int]:
    """(``committed`` with each record that ``rerun`` measured again swapped for its rerun, how
    many were swapped). RerunError if ``rerun`` holds a failed run (an ``error`` field) or a
    measurement that no committed record has."""
    new = {}
    for rec in rerun:
        key = measurement_of(rec)
        if "error" in rec:
            raise RerunError(f"the rerun of `{rec['command']}` failed ({rec['error']}); rerun "
                             "it (the rerun resumes) before replacing")
        new[key] = rec
    keys = [measurement_of(rec) for rec in committed]
    known = set(keys)
    stray = [key for key in new if key not in known]
    if stray:
        raise RerunError(f"{len(stray)} rerun record(s) match no committed record, e.g. "
                         f"`{stray[0][0]}` (seed {stray[0][1]}); they belong to another file")
    out = [new.get(key, rec) for key, rec in zip(keys, committed)]
    return out, sum(key in new for key in keys)


def replace_records(paths: list[Path], from_dir: Path) -> int:
    """Replace the records of each of ``paths`` by their reruns in ``from_dir/<file name>``;
    print what changed per file; returns 0. Every file is checked before any is written."""
    plans = []
    for path in map(Path, paths):
        source = Path(from_dir) / path.name
        if not path.is_file():
            raise RerunError(f"--replace {path}: no such file")
        if not source.is_file():
            raise RerunError(f"--replace {path}: no rerun records at {source}; run "
                             f"`python -m hw synth --rerun {path} --out-dir {from_dir}` first")
        if source.resolve() == path.resolve():
            raise RerunError(f"--replace {path}: --from {from_dir} is the records' own folder")
        out, swapped = replaced_records(read_jsonl(path, "--replace"),
                                        read_jsonl(source, "--from"))
        plans.append((path, out, swapped))
    for path, out, swapped in plans:
        write_text_atomic(path, "".join(json.dumps(rec) + "\n" for rec in out))
        print(f"{path}: {swapped} record(s) replaced, {len(out) - swapped} kept")
    return 0
