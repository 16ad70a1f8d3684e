"""Folding the flip-flops behind ECP5 block RAMs into their output registers (hw/synth/bram_outreg.py):
synthetic netlists for each rule, then a real yosys + nextpnr run on an operand memory."""

import copy
import json

import pytest

from hw.synth.bram_outreg import absorb_bram_output_registers


def _ff(d: int, q: int, params=None, conn=None) -> dict:
    """A TRELLIS_FF from net ``d`` to net ``q`` on clock net 2: a bare D flip-flop unless
    ``params`` / ``conn`` change it."""
    return {"type": "TRELLIS_FF",
            "parameters": {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR",
                           "REGSET": "RESET", **(params or {})},
            "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "Q": "output"},
            "connections": {"CLK": [2], "DI": [d], "LSR": ["0"], "Q": [q], **(conn or {})}}


def _module(ram_params: dict, ram_conn: dict, outputs, cells: dict) -> dict:
    """A netlist of module ``top``: one DP16KD ("ram", its ``outputs`` pins driving) and
    ``cells``."""
    ram = {"type": "DP16KD", "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG",
                                           "GSR": "DISABLED", **ram_params},
           "port_directions": {p: "output" for p in outputs}, "connections": ram_conn}
    return {"modules": {"top": {"ports": {}, "cells": {"ram": ram, **cells},
                                "netnames": {}}}}


def _netlist(ff_params=None, ff_conn=None, extra_loads=(), ram_conn=None):
    """One DP16KD whose port A outputs DOA0/DOA1 (nets 10, 11) each feed a TRELLIS_FF."""
    cells = {f"ff{i}": _ff(d, q, ff_params, ff_conn)
             for i, (d, q) in enumerate([(10, 20), (11, 21)])}
    for n, net in enumerate(extra_loads):
        cells[f"lut{n}"] = {"type": "LUT4", "port_directions": {"A": "input", "Z": "output"},
                            "connections": {"A": [net], "Z": [30 + n]}}
    return _module({}, {"DOA0": [10], "DOA1": [11], "CLKA": [2], "OCEA": ["1"], "RSTA": ["0"],
                        **(ram_conn or {})}, ("DOA0", "DOA1"), cells)


def test_plain_flip_flops_are_folded():
    net = _netlist()
    assert absorb_bram_output_registers(net, "top") == 2
    cells = net["modules"]["top"]["cells"]
    assert set(cells) == {"ram"}
    assert cells["ram"]["parameters"]["REGMODE_A"] == "OUTREG"
    assert cells["ram"]["parameters"]["REGMODE_B"] == "NOREG"
    assert cells["ram"]["connections"]["DOA0"] == [20] and cells["ram"]["connections"]["DOA1"] == [21]


@pytest.mark.parametrize("kwargs", [
    {"ff_params": {"CEMUX": "CE"}, "ff_conn": {"CE": [5]}},      # clock enable
    {"ff_conn": {"LSR": [6]}},                                    # set/reset
    {"ff_conn": {"CLK": [3]}},                                    # another clock
    {"ff_params": {"GSR": "ENABLED"}},                            # global reset differs
    {"extra_loads": [11]},                                        # DOA1 also read by logic
    {"ram_conn": {"OCEA": [7]}},                                  # output enable not tied 1
    {"ram_conn": {"RSTA": [8]}},                                  # output reset used
])
def test_anything_but_a_bare_register_is_left_alone(kwargs):
    net = _netlist(**kwargs)
    before = copy.deepcopy(net)
    assert absorb_bram_output_registers(net, "top") == 0
    assert net == before


def _pdp_netlist(ff_b=None, ram_conn=None):
    """One DP16KD in the x36 pseudo-dual-port mode as Yosys writes it (both widths 36, the
    write side's OCEA tied 0): its read leaves on DOA0 and DOB0 (nets 10, 11), each into a
    TRELLIS_FF; ``ff_b`` changes the DOB0 flip-flop's parameters."""
    w36 = format(36, "032b")
    return _module({"DATA_WIDTH_A": w36, "DATA_WIDTH_B": w36},
                   {"DOA0": [10], "DOB0": [11], "CLKA": [2], "CLKB": [2], "OCEA": ["0"],
                    "OCEB": ["1"], "RSTA": ["0"], "RSTB": ["0"], **(ram_conn or {})},
                   ("DOA0", "DOB0"), {"ffa": _ff(10, 20), "ffb": _ff(11, 21, ff_b)})


def test_a_36_bit_read_is_folded_whole_into_both_halves_registers():
    net = _pdp_netlist()
    assert absorb_bram_output_registers(net, "top") == 2
    cells = net["modules"]["top"]["cells"]
    assert set(cells) == {"ram"}
    ram = cells["ram"]
    assert ram["parameters"]["REGMODE_A"] == ram["parameters"]["REGMODE_B"] == "OUTREG"
    assert ram["connections"]["OCEA"] == ["1"]
    assert ram["connections"]["DOA0"] == [20] and ram["connections"]["DOB0"] == [21]


@pytest.mark.parametrize("kwargs", [
    {"ff_b": {"CEMUX": "CE"}},                 # one half's register has an enable: neither
    {"ram_conn": {"CLKA": [3]}},               # the halves on two clocks
    {"ram_conn": {"OCEB": [7]}},               # the read side's output enable not tied 1
])
def test_a_36_bit_read_is_never_half_folded(kwargs):
    net = _pdp_netlist(**kwargs)
    before = copy.deepcopy(net)
    assert absorb_bram_output_registers(net, "top") == 0
    assert net == before


def _write_memory_verilog(mem, path):
    """Write ``mem``'s Verilog (module ``mem``, with the flow's post-passes) to ``path``."""
    from hw.rtl.verilog import convert

    path.write_text(convert(mem, "mem"))
    return path


@pytest.fixture(scope="module")
def memory_verilog(tmp_path_factory):
    from hw.rtl.memory import PipelinedMemory

    return _write_memory_verilog(PipelinedMemory(32, 2048, 16384),
                                 tmp_path_factory.mktemp("mem") / "mem.v")


def test_real_memory_maps_to_slices_with_output_registers(memory_verilog, tmp_path):
    from hw.synth.flow import synth_verilog

    from hw.rtl.memory import PipelinedMemory

    rec = synth_verilog([memory_verilog], "ecp5-25", workdir=tmp_path)
    # 2048 x 32 = four 2048 x 9 DP16KD slices; their 32 read-data flip-flops are folded in
    assert rec["bram"] == 4 and rec["bram_outreg_ffs"] == 32
    # left in the fabric: three stages of write address, read address (11 each), write data
    # (32) and write enable (the input one, the piece's, the copy of the group of 4 slices:
    # one group here), and the three transport registers (32 each)
    assert PipelinedMemory.INPUT_REGS == 3 and PipelinedMemory.SLICES_PER_ADDRESS == 4
    assert rec["ff"] == 3 * (11 + 11 + 32 + 1) + 3 * 32
    net = json.loads((tmp_path / "core_outreg.json").read_text())
    rams = [c for c in net["modules"]["mem"]["cells"].values() if c["type"] == "DP16KD"]
    assert len(rams) == 4 and all("OUTREG" in (c["parameters"]["REGMODE_A"],
                                               c["parameters"]["REGMODE_B"]) for c in rams)
    # nextpnr now sees ~1 ns block-RAM clock-to-out: the memory alone runs well above 150 MHz
    assert rec["fmax_mhz"] > 200, rec["pnr"]["critical_path"]


def test_shallow_memory_maps_to_pseudo_dual_port_slices(tmp_path):
    """A memory of at most 512 words is cut into 36-bit slices, each one DP16KD in
    pseudo-dual-port x36 mode (half the block RAMs of 18-bit slices), output registers folded."""
    from hw.rtl.memory import PipelinedMemory
    from hw.synth.flow import synth_verilog

    mem = PipelinedMemory(72, 512, 16384)
    assert mem.slices == 2
    path = _write_memory_verilog(mem, tmp_path / "mem.v")
    rec = synth_verilog([path], "ecp5-25", workdir=tmp_path)
    assert rec["bram"] == 2 and rec["bram_outreg_ffs"] == 72
    # as above: three input stages (9-bit addresses, 72-bit data), one slice group, three
    # transport registers
    assert rec["ff"] == 3 * (9 + 9 + 72 + 1) + 3 * 72
    net = json.loads((tmp_path / "core_outreg.json").read_text())
    rams = [c for c in net["modules"]["mem"]["cells"].values() if c["type"] == "DP16KD"]
    assert all(c["parameters"]["REGMODE_A"] == c["parameters"]["REGMODE_B"] == "OUTREG"
               for c in rams)
