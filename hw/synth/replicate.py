"""Replicate the drivers of high-fanout nets of an ECP5 netlist, one copy per cluster of loads.

nextpnr has no register replication (a vendor flow's ``max_fanout``). On a 50k-LUT design a
control flip-flop that enables thousands of flip-flops spread over the die ends its path after
~10 ns of routing. This pass, on Yosys' JSON netlist between a placement run and the run that
is measured, gives each cluster of a net's loads a driver of its own:

- a net driven by a ``TRELLIS_FF``: the flip-flop is copied (the same ``CLK``, ``DI``, ``CE``,
  ``LSR`` nets and the same parameters, so every copy holds the same value in every cycle);
- a net driven by a ``LUT4`` whose fan-in cone down to registers, constants and module inputs
  is at most :data:`MAX_CONE_LUTS` LUTs: the cone's LUTs and registers are copied together
  (each cluster's gate has registers of its own beside it, so the long route moves in front of
  the registers, where the path is short);
- a net driven by any other ``LUT4``: the LUT is copied (its inputs gain loads).

Loads are split into clusters of at most ``max_fanout`` by recursive bisection of their placed
positions (:func:`bel_positions` of the placement run's ``--write`` netlist), so each copy serves
loads that sit together. The original driver keeps the first cluster and every load without a
position (a module output, a cell the placement renamed). Nothing else changes: merging the
copies back (``opt_merge -share_all`` in Yosys) gives the netlist before this pass
(tests/hw/test_replicate.py checks that on a real netlist).
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict

#: ports that are not data loads: the clock is on its global network
_NOT_LOADS = {"CLK"}
#: LUT4 inputs
_LUT_INPUTS = ("A", "B", "C", "D")
#: LUTs a copied cone may hold: the driver and the gates between it and its registers
MAX_CONE_LUTS = 4
_BEL = re.compile(r"X(\d+)/Y(\d+)/(\w+)")
_CARRY_HALF = re.compile(r"\$CCU2_COMB[01]$")


def bel_positions(placed: dict) -> dict[str, tuple[int, int, str]]:
    """{cell name: (x, y, site)} of every placed cell in a netlist nextpnr wrote with ``--write``
    after placement (its ``NEXTPNR_BEL`` attribute, e.g. ``X12/Y40/SLICEB.K0``; nextpnr names
    the module ``top``). A carry cell split in two (``<name>$CCU2_COMB0``/``1``) is found under
    its netlist name."""
    mods = placed["modules"]
    mod = mods["top"] if "top" in mods else next(iter(mods.values()))
    out = {}
    for name, cell in mod["cells"].items():
        m = _BEL.match(str(cell.get("attributes", {}).get("NEXTPNR_BEL", "")))
        if m:
            pos = (int(m.group(1)), int(m.group(2)), m.group(3))
            out[name] = pos
            base = _CARRY_HALF.sub("", name)
            if base != name:
                out.setdefault(base, pos)
    return out


def _index(mod: dict) -> tuple[dict, dict]:
    """(drivers {net bit: (cell, port)}, loads {net bit: [(cell, port), ...]}) of a module;
    module ports load or drive as ``("<port>", name)``."""
    drivers, loads = {}, defaultdict(list)
    for name, cell in mod["cells"].items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            for b in bits:
                if not isinstance(b, int):
                    continue
                if dirs.get(port) == "output":
                    drivers[b] = (name, port)
                elif port not in _NOT_LOADS:
                    loads[b].append((name, port))
    for pname, port in mod.get("ports", {}).items():
        for b in port["bits"]:
            if isinstance(b, int):
                if port["direction"] == "input":
                    drivers[b] = ("<port>", pname)
                else:
                    loads[b].append(("<port>", pname))
    return drivers, loads


def _clusters(units: list[tuple[tuple[float, float], list]], limit: int) -> list[list]:
    """Split ``units`` ((x, y), loads) into groups of at most ``limit`` loads (a unit is never
    split: two flip-flops of one slice share its enable) by halving along the wider axis."""
    size = sum(len(u[1]) for u in units)
    if size <= limit or len(units) == 1:
        return [[ld for u in units for ld in u[1]]]
    xs = [u[0][0] for u in units]
    ys = [u[0][1] for u in units]
    axis = 0 if max(xs) - min(xs) >= max(ys) - min(ys) else 1
    units = sorted(units, key=lambda u: (u[0][axis], u[0][1 - axis]))
    parts = -(-size // limit)
    want = size * (parts // 2) / parts            # loads in the first half
    acc, cut = 0, 0
    while cut < len(units) - 1 and acc + len(units[cut][1]) <= want:
        acc += len(units[cut][1])
        cut += 1
    cut = max(cut, 1)
    return _clusters(units[:cut], limit) + _clusters(units[cut:], limit)


class _Netlist:
    """A module being edited: its cells, drivers, loads and the next free net bit."""

    def __init__(self, netlist: dict, top: str, positions: dict):
        self.mod = netlist["modules"][top]
        self.cells = self.mod["cells"]
        self.drivers, self.loads = _index(self.mod)
        self.site = dict(positions)      # copies get sites of their own (place_copy)
        bits = [b for c in self.cells.values() for v in c["connections"].values() for b in v
                if isinstance(b, int)]
        bits += [b for p in self.mod.get("ports", {}).values() for b in p["bits"]
                 if isinstance(b, int)]
        self.next_bit = max(bits, default=1) + 1
        self.serial = 0

    def new_bit(self, name: str) -> int:
        b = self.next_bit
        self.next_bit += 1
        self.mod["netnames"][name] = {"hide_name": 0, "bits": [b], "attributes": {}}
        return b

    def copy_cell(self, name: str, suffix: str, out_port: str) -> tuple[str, int]:
        """A copy of cell ``name`` (new name, its output's new net bit); the copy drives
        nothing until a load is moved onto it."""
        new = f"{name}{suffix}"
        while new in self.cells:
            self.serial += 1
            new = f"{name}{suffix}_{self.serial}"
        cell = copy.deepcopy(self.cells[name])
        bit = self.new_bit(f"{new}.{out_port}")
        cell["connections"][out_port] = [bit]
        self.cells[new] = cell
        for port, bits in cell["connections"].items():
            if port != out_port and port not in _NOT_LOADS:
                for b in bits:
                    if isinstance(b, int):
                        self.loads[b].append((new, port))
        self.drivers[bit] = (new, out_port)
        return new, bit

    def move(self, loads: list, old: int, new: int) -> None:
        """Connect ``loads`` (cell, port) from net bit ``old`` to ``new``."""
        for cell, port in loads:
            conn = self.cells[cell]["connections"][port]
            self.cells[cell]["connections"][port] = [new if b == old else b for b in conn]
            self.loads[old].remove((cell, port))
            self.loads[new].append((cell, port))

    def units(self, loads: list) -> list:
        """The placed ones of ``loads`` as units ((x, y), loads), one per slice; loads without
        a position are left out (they stay on the original driver)."""
        by_site = defaultdict(list)
        for ld in loads:
            if ld[0] in self.site:
                by_site[self.site[ld[0]]].append(ld)
        return [((s[0], s[1]), lds) for s, lds in sorted(by_site.items())]

    def place_copy(self, name: str, where: tuple[float, float] | None) -> None:
        """Give copy ``name`` a position (where its loads are), so that loads of its inputs'
        nets that are copies cluster too; a site of its own."""
        if where is not None:
            self.site[name] = (where[0], where[1], f"copy:{name}")

    def centroid(self, loads: list) -> tuple[float, float] | None:
        ps = [self.site[c] for c, _ in loads if c in self.site]
        if not ps:
            return None
        return (sum(p[0] for p in ps) / len(ps), sum(p[1] for p in ps) / len(ps))


def replicate_high_fanout(netlist: dict, top: str, positions: dict, *,
                          max_fanout: int = 64) -> dict:
    """Give every net of module ``top`` with more than ``max_fanout`` loads one driver per
    cluster of at most ``max_fanout`` placed loads (in place; rules in the module docstring).
    ``positions``: :func:`bel_positions` of a placement of this netlist.

    Returns counts: nets (nets split), ff_copies, lut_copies.
    """
    if not isinstance(max_fanout, int) or max_fanout < 2:
        raise ValueError(f"max_fanout must be an integer >= 2, got {max_fanout!r}")
    n = _Netlist(netlist, top, positions)
    stats = {"nets": 0, "ff_copies": 0, "lut_copies": 0}
    # a copy adds loads to its inputs' nets: split until no net is left to split
    while _split_pass(n, max_fanout, stats):
        pass
    return stats


def _split_pass(n: "_Netlist", max_fanout: int, stats: dict) -> bool:
    """One pass over the nets to split (LUT-driven first); True when one was split."""
    split = False
    # LUT-driven nets first: their copies may add loads to flip-flops split below
    order = sorted(n.loads, key=lambda b: (n.cells.get(n.drivers.get(b, ("<port>",))[0],
                                                       {}).get("type") != "LUT4", b))
    for bit in order:
        drv = n.drivers.get(bit)
        if drv is None or drv[0] == "<port>" or len(n.loads[bit]) <= max_fanout:
            continue
        kind = n.cells[drv[0]]["type"]
        if kind not in ("TRELLIS_FF", "LUT4"):
            continue
        units = n.units(n.loads[bit])
        if not units:
            continue
        groups = _clusters(units, max_fanout)
        if len(groups) < 2:
            continue
        stats["nets"] += 1
        split = True
        cone = _cone(n, drv[0]) if kind == "LUT4" else None
        for i, group in enumerate(groups[1:], 1):
            suffix = f"_rep{i}"
            placed: list[str] = []
            if cone is not None:
                new_bit = _copy_cone(n, drv[0], suffix, {}, placed, stats)
            else:
                new, new_bit = n.copy_cell(drv[0], suffix, drv[1])
                placed.append(new)
                stats["ff_copies" if kind == "TRELLIS_FF" else "lut_copies"] += 1
            n.move(group, bit, new_bit)
            where = n.centroid(group)
            for name in placed:
                n.place_copy(name, where)
    return split


def _lut_inputs(n: _Netlist, lut: str) -> list:
    return [b for p in _LUT_INPUTS for b in n.cells[lut]["connections"].get(p, [])]


def _cone(n: _Netlist, lut: str) -> set[str] | None:
    """The LUTs from ``lut`` back to the registers, constants and module inputs it reads, or
    None when that cone meets another kind of cell or holds more than :data:`MAX_CONE_LUTS`."""
    seen: set[str] = set()
    stack = [lut]
    while stack:
        cell = stack.pop()
        if cell in seen:
            continue
        seen.add(cell)
        if len(seen) > MAX_CONE_LUTS:
            return None
        for b in _lut_inputs(n, cell):
            d = n.drivers.get(b) if isinstance(b, int) else None
            if d is None or d[0] == "<port>":
                continue
            kind = n.cells[d[0]]["type"]
            if kind == "LUT4":
                stack.append(d[0])
            elif kind != "TRELLIS_FF":
                return None
    return seen


def _copy_cone(n: _Netlist, lut: str, suffix: str, memo: dict, placed: list,
               stats: dict) -> int:
    """Copy LUT ``lut`` and, under it, each LUT and register of its cone (:func:`_cone`)
    once (``memo``: original cell -> its copy's output net bit); the copies' names go to
    ``placed``. Returns the net bit of ``lut``'s copy."""
    new, new_bit = n.copy_cell(lut, suffix, "Z")
    placed.append(new)
    stats["lut_copies"] += 1
    for port in _LUT_INPUTS:
        bits = n.cells[new]["connections"].get(port, [])
        d = n.drivers.get(bits[0]) if bits and isinstance(bits[0], int) else None
        if d is None or d[0] == "<port>":
            continue
        if d[0] not in memo:
            if n.cells[d[0]]["type"] == "TRELLIS_FF":
                ff, memo[d[0]] = n.copy_cell(d[0], suffix, d[1])
                placed.append(ff)
                stats["ff_copies"] += 1
            else:
                memo[d[0]] = _copy_cone(n, d[0], suffix, memo, placed, stats)
        n.move([(new, port)], bits[0], memo[d[0]])
    return new_bit
