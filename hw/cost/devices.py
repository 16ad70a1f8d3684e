"""FPGA devices the synthesis runner and the resource model know about.

One :class:`Device` per name; capacities are the vendor datasheet figures (cited per device)
and agree with what nextpnr reports as "available" for the same part.

Units, per family (the same units the synthesis runner reports, see :mod:`hw.synth.flow`):

- ``lut``: LUT4 logic cells on ECP5 and iCE40, LUT6 on Xilinx 7-series.
- ``ff``: flip-flops. ECP5: 2 FF per slice = 1 per LUT4. iCE40: 1 DFF per logic cell.
- ``bram``: ECP5 DP16KD (18 kbit) / iCE40 EBR SB_RAM40_4K (4 kbit) / 7-series RAMB36E1 (a
  RAMB18E1 counts 0.5).
- ``dsp``: ECP5 MULT18X18D, iCE40 SB_MAC16, 7-series DSP48E1.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DeviceError(ValueError):
    """Unknown device name, or a request the device cannot serve; the message says what to do."""


class DeviceFitError(DeviceError):
    """A config needs more of a resource than the device has (``python -m hw``: exit status 3);
    the message says by how much."""


@dataclass(frozen=True)
class Device:
    """One FPGA part: capacities, tool-chain arguments and the datasheet it comes from."""

    name: str
    family: str                 # "ecp5" | "ice40" | "xc7"
    part: str                   # vendor part name
    lut: int
    ff: int
    bram: int
    dsp: int
    source: str                 # where the capacities come from
    nextpnr_args: tuple[str, ...] = field(default=())  # empty: synthesis only, no P&R
    pnr_freq_mhz: float = 0.0   # target handed to nextpnr (timing-driven effort only)

    @property
    def can_place_and_route(self) -> bool:
        """True when an open-source nextpnr flow exists for the part (ECP5, iCE40)."""
        return bool(self.nextpnr_args)

    @property
    def capacity(self) -> dict[str, int]:
        """Capacities keyed like the synthesis/estimate records: lut, ff, bram, dsp."""
        return {"lut": self.lut, "ff": self.ff, "bram": self.bram, "dsp": self.dsp}


_ECP5_DS = ("Lattice ECP5 and ECP5-5G Family Data Sheet, FPGA-DS-02012, Table 1.1 "
            "(LUTs, EBR SRAM blocks, 18x18 multipliers); matches nextpnr-ecp5's 'available' counts")
_UP5K_DS = ("Lattice iCE40 UltraPlus Family Data Sheet, FPGA-DS-02008, Table 1.1 "
            "(5,280 LUT4, 30 EBR of 4 kbit, 8 DSP SB_MAC16); matches nextpnr-ice40 --up5k")
_HX8K_DS = ("Lattice iCE40 LP/HX Family Data Sheet, FPGA-DS-02029, Table 1.1 "
            "(7,680 LUT4, 32 EBR of 4 kbit, no DSP); matches nextpnr-ice40 --hx8k")
_A7_DS = ("Xilinx 7 Series FPGAs Data Sheet: Overview, DS180, Table 3, XC7A100T "
          "(15,850 slices = 63,400 LUT6 and 126,800 FF, 135 RAMB36, 240 DSP48E1)")

DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("ecp5-25", "ecp5", "LFE5U-25F-6BG381C", 24_288, 24_288, 56, 28, _ECP5_DS,
           ("--25k", "--package", "CABGA381", "--speed", "6"), 200.0),
    Device("ecp5-45", "ecp5", "LFE5U-45F-6BG381C", 43_848, 43_848, 108, 72, _ECP5_DS,
           ("--45k", "--package", "CABGA381", "--speed", "6"), 200.0),
    Device("ecp5-85", "ecp5", "LFE5U-85F-6BG381C", 83_640, 83_640, 208, 156, _ECP5_DS,
           ("--85k", "--package", "CABGA381", "--speed", "6"), 200.0),
    Device("ice40-up5k", "ice40", "iCE40UP5K-SG48", 5_280, 5_280, 30, 8, _UP5K_DS,
           ("--up5k", "--package", "sg48"), 100.0),
    Device("ice40-hx8k", "ice40", "iCE40HX8K-CT256", 7_680, 7_680, 32, 0, _HX8K_DS,
           ("--hx8k", "--package", "ct256"), 100.0),
    Device("xc7a100t", "xc7", "XC7A100T", 63_400, 126_800, 135, 240, _A7_DS, (), 0.0),
)}

FAMILIES = ("ecp5", "ice40", "xc7")


def get_device(name: str) -> Device:
    """The device called ``name`` (case-insensitive); DeviceError listing the valid names."""
    key = str(name).strip().lower()
    if key not in DEVICES:
        raise DeviceError(f"unknown device {name!r}; valid devices: {', '.join(DEVICES)}")
    return DEVICES[key]


def fit_report(usage: dict, device: Device) -> dict:
    """Per-resource utilisation of ``usage`` (keys lut/ff/bram/dsp) on ``device``.

    Returns {resource: {"used", "available", "percent", "over"}}; ``over`` is how many units
    beyond capacity (0 when it fits).
    """
    out = {}
    for key, avail in device.capacity.items():
        used = float(usage.get(key) or 0)
        out[key] = {"used": used, "available": avail,
                    "percent": round(100.0 * used / avail, 1) if avail else (0.0 if not used else float("inf")),
                    "over": max(0.0, used - avail)}
    return out


def fit_fields(rec: dict, device: Device) -> dict:
    """The fields a synthesis record of one config gets for ``device``: ``fits``,
    ``utilization_percent`` per resource and, when it does not fit, ``over`` (units beyond
    capacity per resource that is over)."""
    rep = fit_report(rec, device)
    over = {k: v["over"] for k, v in rep.items() if v["over"] > 0}
    out = {"fits": not over, "utilization_percent": {k: v["percent"] for k, v in rep.items()}}
    if over:
        out["over"] = over
    return out


def check_fits(usage: dict, device: Device) -> None:
    """Raise DeviceFitError saying, per resource, by how much ``usage`` exceeds ``device``."""
    over = {k: v for k, v in fit_report(usage, device).items() if v["over"] > 0}
    if over:
        parts = [f"{k}: needs {v['used']:.0f}, has {v['available']} "
                 f"(over by {v['over']:.0f}, {v['percent']:.0f}% used)" for k, v in over.items()]
        raise DeviceFitError(f"config does not fit {device.name} ({device.part}): " + "; ".join(parts))
