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
The flip-flop is removed and the RAM's output takes over the flip-flop's ``Q`` net. A RAM in the
36-bit pseudo-dual-port mode has one read on both ports' outputs and one output register: its
read is folded whole or not at all (:func:`absorb_bram_output_registers`).
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


def _width(par: dict, port: str) -> int:
    """DATA_WIDTH_<port> of a DP16KD (Yosys writes parameters as binary strings)."""
    v = par.get(f"DATA_WIDTH_{port}", 18)
    try:
        return int(v, 2) if isinstance(v, str) else int(v)
    except ValueError:
        return 18


def _folds(cells: dict, loads: dict, conn: dict, port: str, clk, gsr: str) -> list | None:
    """(output pin, flip-flop) of every used DO<port> bit when each drives exactly one bare
    flip-flop on ``clk``; None when one does not (then nothing of the port may be folded)."""
    folds = []
    for i in range(DO_BITS):
        bits = conn.get(f"DO{port}{i}")
        if not bits or not isinstance(bits[0], int) or not loads.get(bits[0]):
            continue                      # unused output bit
        readers = loads[bits[0]]
        ff = cells.get(readers[0][0]) if len(readers) == 1 else None
        if ff is None or readers[0][1] != "DI" or not _plain_ff(ff, clk, gsr):
            return None
        folds.append((f"DO{port}{i}", readers[0][0]))
    return folds


def absorb_bram_output_registers(netlist: dict, top: str) -> int:
    """Fold eligible flip-flops into the DP16KD output registers of module ``top`` (in place).

    A RAM with both ports 36 bits wide is the pseudo-dual-port x36 mode (Lattice PDPW16KD): one
    36-bit read leaves on DOA0-17 and DOB0-17 and has one output register (nextpnr turns a
    PDPW16KD's REGMODE into equal REGMODE_A and REGMODE_B, its read-side OCER into OCEB:
    ``ecp5/pack.cc``, pack_ebr). Its 36 bits are folded together or not at all: both clocks
    the flip-flops' clock, OCEB tied to 1, no output reset; REGMODE_A and REGMODE_B become
    OUTREG and OCEA is tied to 1 (Yosys ties the write side's OCEA to 0; the register must
    not depend on which port's enable drives the DOA half).

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
        pdp = _width(par, "A") == 36 and _width(par, "B") == 36
        for ports in (("AB",) if pdp else ("A", "B")):
            if any(par.get(f"REGMODE_{p}", "NOREG") != "NOREG" for p in ports):
                continue
            enable = "B" if pdp else ports
            if conn.get(f"OCE{enable}") != ["1"] or \
                    any(conn.get(f"RST{p}", ["0"]) != ["0"] for p in ports):
                continue
            clk = conn.get(f"CLK{ports[0]}")
            if not clk or not isinstance(clk[0], int) or \
                    any(conn.get(f"CLK{p}") != clk for p in ports):
                continue
            parts = [_folds(cells, loads, conn, p, clk, gsr) for p in ports]
            if any(f is None for f in parts) or not any(parts):
                continue
            for pin, ff_name in (f for part in parts for f in part):
                conn[pin] = list(cells[ff_name]["connections"]["Q"])
                del cells[ff_name]
                removed += 1
            for p in ports:
                par[f"REGMODE_{p}"] = "OUTREG"
            if pdp:
                conn["OCEA"] = ["1"]
    return removed
