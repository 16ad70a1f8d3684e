"""Committed synthesis records measured again at this RTL revision (``python -m hw synth --rerun
FILE ... --out-dir DIR``).

After an RTL change every record of the old revision describes Verilog that is no longer
generated. A rerun takes each record of the given ``.jsonl`` files and runs its measurement
again: the same config, device, component, with or without P&R, the same nextpnr seed, target
frequency and router. The new records go to ``DIR/<the same file name>``, one whole line each as
it finishes, so that the committed files stay as they are until the new ones are reviewed and
moved over (``python -m hw synth --replace``, :mod:`hw.synth.replace`); a record already in
``DIR`` (the same :func:`measurement_of`, without an error) is skipped, so an interrupted rerun
resumes. A measurement that several of the files hold is one tool run, written to each. ``reuse``
records carry over byte-identical Verilog as everywhere else (:mod:`hw.synth.reuse`).
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..outfiles import InputFileError, read_jsonl
from .flow import TOOL_TIMEOUT_S
from .seeds import nextpnr_option, replicate_of, timing_weight_of, tmg_ripup_of
from .sweep import recorded

#: fields of a record that say where it belongs rather than what was measured: carried over
CARRIED = ("held_out", "sweep")


class RerunError(ValueError):
    """A rerun that cannot start (``python -m hw``: exit status 2)."""


def measurement_of(rec: dict) -> tuple:
    """(command, nextpnr seed, nextpnr target MHz or None without P&R, nextpnr router or None
    for its default, nextpnr's timing-driven rip-up on or off), then a (name, value) pair for
    each flow option the record has beyond those (the placer's timing weight, the replication
    fanout bound), of a record: what a rerun repeats, and what makes two records the same
    measurement."""
    freq = nextpnr_option(rec, "--freq")
    key = (rec["command"], int(nextpnr_option(rec, "--seed") or 1),
           float(freq) if freq else None, nextpnr_option(rec, "--router"), tmg_ripup_of(rec))
    extra = (("timing_weight", timing_weight_of(rec)), ("replicate", replicate_of(rec)))
    return key + tuple(pair for pair in extra if pair[1] is not None)


def _measure(rec: dict, reuse: tuple, tool_timeout: float = TOOL_TIMEOUT_S) -> dict:
    """``rec``'s tool run at this revision (a record with ``error`` if a tool fails), before
    the fields that depend on the file it goes to (:func:`_finish`)."""
    from ..config import ArrayConfig
    from ..cost.devices import get_device
    from .flow import SynthError, synth_config

    cfg, dev = ArrayConfig.from_dict(rec["config"]), get_device(rec["device"])
    _, seed, freq, router, tmg_ripup = measurement_of(rec)[:5]
    try:
        return synth_config(cfg, dev, pnr=freq is not None, freq_mhz=freq, seed=seed,
                            router=router, tmg_ripup=tmg_ripup,
                            timing_weight=timing_weight_of(rec), replicate=replicate_of(rec),
                            timeout=tool_timeout,
                            component=rec.get("component", "top"), reuse=reuse)
    except SynthError as e:
        new = {key: rec[key] for key in ("rows", "cols", "simd", "device", "config", "command")}
        new["error"] = str(e)
        return new


def _finish(rec: dict, measured: dict) -> dict:
    """The new record that takes ``rec``'s place: ``measured`` with the fields ``rec``'s file
    carries (device fit for a record of one config, its place in a sweep)."""
    from ..cost.devices import fit_fields, get_device

    new = dict(measured)
    if "fits" in rec and "error" not in new:      # a record of one config (`python -m hw synth`)
        new.update(fit_fields(new, get_device(rec["device"])))
    new.update({key: rec[key] for key in CARRIED if key in rec})
    return new


def _read(path: Path, what: str) -> list[dict]:
    records = read_jsonl(path, what)
    for no, rec in enumerate(records, 1):
        if not isinstance(rec.get("command"), str) or "config" not in rec:
            raise InputFileError(f"{what} {path}: record {no} has no command or config; it is "
                                 "not a record of `python -m hw synth`")
    return records


def _check_current(dest: Path) -> None:
    """Refuse to resume into ``dest`` if it holds a record of another RTL revision (a folder
    left by the rerun of an earlier change): its measurements would count as done."""
    from ..config import ArrayConfig
    from .flow import rtl_revision

    if not dest.is_file():
        return
    for rec in read_jsonl(dest, "--out-dir records"):
        current = rtl_revision(ArrayConfig.from_dict(rec["config"]).core_parts)   # cached
        if "error" not in rec and rec.get("rtl_revision") != current:
            raise RerunError(f"--out-dir: {dest} holds records of RTL revision "
                             f"{rec.get('rtl_revision')}, not this revision {current}; "
                             "give a fresh --out-dir")


def rerun_records(paths: list[Path], *, out_dir: Path, jobs: int = 1,
                  reuse: list[dict] | tuple = (),
                  tool_timeout: float = TOOL_TIMEOUT_S, core_parts: int | None = None) -> int:
    """Measure every record of ``paths`` again (with ``core_parts``, only the records of that
    core), appending each to ``out_dir/<its file name>`` (``tool_timeout`` seconds per tool
    run); returns an exit status (1 if a tool failed: that record carries an ``error`` field and
    runs again on resume)."""
    from tqdm import tqdm

    from ..config import ArrayConfig
    from ..outfiles import append_line, check_writable_dir
    from .yowasp_cache import warm_yowasp_cache

    if jobs < 1:
        raise RerunError(f"--jobs {jobs}: give 1 or more parallel tool runs")
    paths = [Path(p) for p in paths]
    out_dir = check_writable_dir(out_dir, "--out-dir")
    for path in paths:
        if not path.is_file():
            raise RerunError(f"--rerun {path}: no such file")
        if path.resolve().parent == out_dir.resolve():
            raise RerunError(f"--rerun {path}: --out-dir {out_dir} is its own folder; write the "
                             "new records to another folder, review them, then move them over")
    if len({p.name for p in paths}) < len(paths):
        raise RerunError("--rerun: two files of the same name would write one output file")
    todo: dict[tuple, list] = {}      # one tool run per measurement, for every file holding it
    for path in paths:
        dest = out_dir / path.name
        done = recorded(dest, key=measurement_of)     # torn tail cut, failed runs excluded
        _check_current(dest)
        for rec in _read(path, "--rerun"):
            if core_parts is not None and \
                    ArrayConfig.from_dict(rec["config"]).core_parts != core_parts:
                continue                  # the other core's record: kept as committed
            key = measurement_of(rec)
            if key not in done:
                todo.setdefault(key, []).append((dest, rec))
    if not todo:
        print("every record is measured already", file=sys.stderr)
        return 0
    # the long runs first, so parallel workers finish together
    runs = sorted(todo.values(), key=lambda places: -max(
        sum((rec.get("seconds") or {}).values()) for _, rec in places))
    warm_yowasp_cache(log=lambda m: print(m, file=sys.stderr))
    failures = 0
    with ProcessPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(runs), desc="synth rerun", unit="run", file=sys.stderr) as bar:
        futs = {}
        for places in runs:
            first = places[0][1]
            again = tuple(r for r in reuse if r.get("command") == first["command"])
            futs[pool.submit(_measure, first, again, tool_timeout)] = places
        for fut in as_completed(futs):
            measured = fut.result()
            for dest, rec in futs[fut]:
                dest.parent.mkdir(parents=True, exist_ok=True)
                append_line(dest, json.dumps(_finish(rec, measured)))   # whole, or torn
            failures += "error" in measured
            bar.set_postfix_str(f"{measured['device']} "
                                f"{measured['rows']}x{measured['cols']}x{measured['simd']} "
                                f"fmax={measured.get('fmax_mhz')}")
            bar.update()
    if failures:
        print(f"{failures} record(s) failed; they carry an 'error' field and run again on "
              "resume", file=sys.stderr)
    return 1 if failures else 0
