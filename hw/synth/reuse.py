"""Reuse of a synthesis record whose inputs have not changed.

A record measured one Verilog text (``verilog_sha256``) with one set of tools (``tools``) and
flags (``command``: the config, device, P&R or not, component; the nextpnr seed and frequency in
``flags``). When an RTL change leaves a config's Verilog byte-identical, running yosys and
nextpnr again on it gives the same netlist and placement, so its record is carried over to the
new RTL revision instead of spending the tool time again (``python -m hw synth --reuse FILE``).
The carried record says so: ``reused`` holds the revision it was measured under. Nothing else in
it changes; a config whose Verilog differs in a single byte runs the tools.

What the comparison cannot see is a change to the flow's own code that keeps its flags (the
output-register pass, the cell counting in :mod:`hw.synth.flow`): after such a change, run the
sweep without ``--reuse``.
"""

from __future__ import annotations

from typing import Iterable


def find_reusable(candidates: Iterable[dict], *, command: str, verilog_sha256: str,
                  tools: dict, flags: dict) -> dict | None:
    """The first of ``candidates`` (synthesis records) that measured exactly these inputs:
    the same command, Verilog hash, tool versions and flags (yosys script, output-register
    pass, nextpnr arguments: :func:`hw.synth.flow.record_flags`), and no error; None if there
    is none."""
    for rec in candidates:
        if ("error" not in rec and rec.get("command") == command
                and rec.get("verilog_sha256") == verilog_sha256 and rec.get("tools") == tools
                and rec.get("flags") == flags):
            return rec
    return None


def carried_over(rec: dict, rtl_revision: str) -> dict:
    """``rec`` as a record of ``rtl_revision``, marked with the revision it was measured under
    (a record carried before keeps its first measuring revision)."""
    first = (rec.get("reused") or {}).get("measured_under", rec.get("rtl_revision"))
    return {**rec, "rtl_revision": rtl_revision,
            "reused": {"measured_under": first,
                       "why": "byte-identical Verilog (verilog_sha256), same tools and flags"}}
