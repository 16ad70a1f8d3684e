"""Verilog generation: top module, file list and a JSON sidecar of the configuration."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .config import ArrayConfig
from .core import FAULTS
from .formats import cmd_fields, cmd_width

TOP_NAME = "bvit_top"


def generate(cfg: ArrayConfig, *, fault: str | None = None, name: str = TOP_NAME) -> str:
    """Verilog text of :class:`hw.top.AxiTop` for ``cfg`` (optionally with a deliberate fault)."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import verilog

    from .top import AxiTop

    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {FAULTS}")
    top = AxiTop(cfg, fault=fault)
    return verilog.convert(top, name=name, emit_src=False)


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
    tmp = vpath.with_suffix(".v.tmp")
    tmp.write_text(text)
    tmp.replace(vpath)
    (out / "files.f").write_text(f"{vpath.name}\n")
    meta = {
        "top": name, "fault": fault, "config": cfg.to_dict(),
        "ports": {"s_axis_cmd_tdata": cmd_width(cfg), "s_axis_data_tdata": cfg.simd,
                  "m_axis_res_tdata": cfg.out_width},
        "lane_width": cfg.lane_width,
        "cmd_fields": [{"name": n, "offset": o, "width": w} for n, o, w in cmd_fields(cfg)],
    }
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return vpath
