"""Fold the flip-flops right behind ECP5 block RAMs into the RAMs' own output registers.

Yosys (0.70) maps every memory to DP16KD with ``REGMODE_A/B = "NOREG"``
(``share/lattice/brams_map_16kd.v`` hard-codes it), so each read costs the block RAM's full
clock-to-out (5.83 ns on ECP5 speed 6 in nextpnr's timing data) plus a route to a fabric
flip-flop. The DP16KD has an output register (``REGMODE = "OUTREG"``: 0.96 ns clock-to-out);
Lattice's own flow folds a register that follows the RAM into it. This pass does the same on
Yosys' JSON netlist, before nextpnr.

A port's register is folded only when the result is the same circuit cycle for cycle: every
used data output of the port drives exactly one load, the ``DI`` pin of a plain ``TRELLIS_FF``
(clock = the port's clock, constant clock enable, ``LSR`` tied to 0, same GSR setting as the
RAM), and the port's output-register enable ``OCE`` is tied to 1 and its reset ``RST`` to 0.
The flip-flop is removed and the RAM's output takes over the flip-flop's ``Q`` net.
"""

from __future__ import annotations

from collections import defaultdict

DO_BITS = 18   # DOA0..17 / DOB0..17 of a DP16KD


def _net_loads(mod: dict) -> dict:
    """{net bit: [(cell name, port), ...]} of every cell input and module output reading it."""
    loads = defaultdict(list)
    for name, cell in mod["cells"].items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if dirs.get(port, "input") in ("input", "inout"):
                for b in bits:
                    if isinstance(b, int):
                        loads[b].append((name, port))
    for pname, port in mod.get("ports", {}).items():
        if port["direction"] in ("output", "inout"):
            for b in port["bits"]:
                if isinstance(b, int):
                    loads[b].append(("<port>", pname))
    return loads


def _plain_ff(cell: dict, clk, gsr: str) -> bool:
    """A TRELLIS_FF that is a bare D flip-flop on ``clk`` (no enable, no set/reset)."""
    if cell["type"] != "TRELLIS_FF":
        return False
    p, c = cell["parameters"], cell["connections"]
    return (c.get("CLK") == clk and p.get("CLKMUX", "CLK") == "CLK"
            and p.get("CEMUX", "1").strip() == "1"
            and c.get("LSR", ["0"]) == ["0"] and p.get("LSRMUX", "LSR") == "LSR"
            and p.get("GSR", "DISABLED") == gsr)


def absorb_bram_output_registers(netlist: dict, top: str) -> int:
    """Fold eligible flip-flops into the DP16KD output registers of module ``top`` (in place).

    Returns the number of flip-flops removed (data bits now registered inside block RAMs).
    """
    mod = netlist["modules"][top]
    cells = mod["cells"]
    loads = _net_loads(mod)
    removed = 0
    for ram_name in [n for n, c in cells.items() if c["type"] == "DP16KD"]:
        ram = cells[ram_name]
        conn, par = ram["connections"], ram["parameters"]
        gsr = par.get("GSR", "DISABLED")
        for port in "AB":
            if par.get(f"REGMODE_{port}", "NOREG") != "NOREG":
                continue
            if conn.get(f"OCE{port}") != ["1"] or conn.get(f"RST{port}", ["0"]) != ["0"]:
                continue
            clk = conn.get(f"CLK{port}")
            if not clk or not isinstance(clk[0], int):
                continue
            folds, ok = [], True
            for i in range(DO_BITS):
                bits = conn.get(f"DO{port}{i}")
                if not bits or not isinstance(bits[0], int) or not loads.get(bits[0]):
                    continue                      # unused output bit
                readers = loads[bits[0]]
                ff = cells.get(readers[0][0]) if len(readers) == 1 else None
                if ff is None or readers[0][1] != "DI" or not _plain_ff(ff, clk, gsr):
                    ok = False
                    break
                folds.append((i, readers[0][0]))
            if not ok or not folds:
                continue
            for i, ff_name in folds:
                conn[f"DO{port}{i}"] = list(cells[ff_name]["connections"]["Q"])
                del cells[ff_name]
            par[f"REGMODE_{port}"] = "OUTREG"
            removed += len(folds)
    return removed
