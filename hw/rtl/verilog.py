"""Verilog generation: top module, file list and a JSON sidecar of the configuration."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..config import ArrayConfig
from ..outfiles import atomic_file
from .formats import STREAM_PORTS, cmd_fields, cmd_width, cores_of

TOP_NAME = "bvit_top"

#: an ``initial`` block that sets every word of one memory to zero, as Amaranth emits for
#: ``Memory(init=[])``
_ZERO_INIT = re.compile(r"  initial begin\n((?:    (\w+)\[\d+\] = \d+'h0+;\n)+)  end\n")
#: memories whose contents are defined by writes only: the operand memory slices
_OPERAND_MEMORY = re.compile(r"piece\d+_slice\d+")


def strip_operand_memory_init(text: str) -> tuple[str, int]:
    """Remove the all-zero ``initial`` blocks of the operand memory slices; return the text and
    how many were removed.

    Amaranth writes one assignment per word (16 block-RAM slices x 8192 words per bank in the
    default configuration: over a million lines, more than YoWASP Yosys can read). The
    controller reads only words that the current job wrote (the testbenches check: an unwritten
    word would reach the outputs as X), and a block RAM powers up with its INITVAL (zero) anyway.
    """
    removed = 0

    def drop(match):
        nonlocal removed
        name = match.group(2)
        lines = match.group(1).splitlines()
        if _OPERAND_MEMORY.fullmatch(name) and all(ln.strip().startswith(f"{name}[")
                                                    for ln in lines):
            removed += 1
            return ""
        return match.group(0)

    return _ZERO_INIT.sub(drop, text), removed


#: registers that hold copies of one value on purpose (hw.rtl.memory.PipelinedMemory: the
#: addresses and write enable per group of block-RAM slices; hw.rtl.pool.PoolUnit: the same
#: per open-row bank; hw.rtl.pe.PE: the AND-mode flag per popcount leaf;
#: hw.rtl.parts.drain_control.DrainControl: the drain's shift and bank per PE;
#: hw.rtl.queue.RegisterQueue: its head field per group of gates, ``head_<field>_copy<i>``;
#: hw.rtl.pe.PE with ``pe_flag_regs``: its own flags register, ``flags_own``;
#: hw.rtl.parts.result_path.ResultPath with ``ctl_regs`` 2: the AND-mode flag per column)
_REPLICA = re.compile(r"^(  always @\(posedge clk\)\n"
                      r"    (\\?\S*(?:(?:piece\d+_g|bank)\d+_(?:waddr|raddr|we)|mode_g\d+"
                      r"|pe_(?:shift|bank)__\d+__\d+|drain_row\d+_(?:shift|bank)|head_\w+_copy\d+"
                      r"|flags_own|and_col\d+)) <= )",
                      re.M)


def keep_replicas(text: str) -> tuple[str, int]:
    """Mark the always block of every replica register (``piece<i>_g<g>_waddr`` / ``_raddr`` /
    ``_we``, ``bank<b>_waddr`` / ``_raddr`` / ``_we``, ``mode_g<g>``, ``pe_shift__<r>__<c>`` /
    ``pe_bank__<r>__<c>``, ``drain_row<r>_shift`` / ``_bank``, ``head_<field>_copy<i>``,
    ``flags_own``, ``and_col<c>``) ``(* keep *)``; return the
    text and how many were marked.

    Yosys merges flip-flops with the same inputs (opt_merge) unless their cell carries ``keep``;
    a ``keep`` on the wire is not enough, on the always block it reaches the flip-flop cell.
    Without it, every block RAM of a memory would hang on one address register again."""
    text, n = _REPLICA.subn(lambda m: "  (* keep = 32'd1 *)\n" + m.group(1), text)
    return text, n


def convert(component, name: str) -> str:
    """Verilog text of any of the RTL's components as module ``name``, with the post-passes
    every synthesized netlist needs (:func:`strip_operand_memory_init`, :func:`keep_replicas`)."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import verilog

    text, _ = strip_operand_memory_init(verilog.convert(component, name=name, emit_src=False))
    text, _ = keep_replicas(text)
    return text


def generate(cfg: ArrayConfig, *, fault: str | None = None, name: str = TOP_NAME) -> str:
    """Verilog text of :class:`hw.rtl.top.AxiTop` for ``cfg`` (optionally with a deliberate fault)."""
    from .top import AxiTop, fault_problem

    problem = fault_problem(cfg, fault)
    if problem is not None:
        raise ValueError(f"fault {fault!r}: {problem}")
    return convert(AxiTop(cfg, fault=fault), name)


def write_verilog(cfg: ArrayConfig, out_dir, *, fault: str | None = None,
                  name: str = TOP_NAME) -> Path:
    """Write ``<name>.v``, ``files.f`` (the file list) and ``<name>.json`` (config, port widths,
    command field offsets) into ``out_dir``; return the path of the top ``.v``."""
    if not isinstance(cfg, ArrayConfig):
        raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
    text = generate(cfg, fault=fault, name=name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vpath = out / f"{name}.v"
    meta = {
        "top": name, "fault": fault, "config": cfg.to_dict(),
        "ports": {f"{prefix}_tdata": width
                  for core in cores_of(cfg)
                  for prefix, width in zip(STREAM_PORTS[core],
                                           (cmd_width(cfg), cfg.data_width, cfg.out_width))},
        "lane_width": cfg.lane_width,
        "cmd_fields": [{"name": n, "offset": o, "width": w} for n, o, w in cmd_fields(cfg)],
    }
    # the three files whole or not at all: each goes to a temporary sibling, renamed into place
    # only when all three are written (hw/outfiles.py)
    with atomic_file(vpath) as v, atomic_file(out / "files.f") as flist, \
            atomic_file(out / f"{name}.json") as side:
        v.write(text)
        flist.write(f"{vpath.name}\n")
        side.write(json.dumps(meta, indent=2) + "\n")
    return vpath
