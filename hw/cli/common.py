"""Command-line helpers shared by the ``python -m hw`` commands (one module each in hw/cli/)
and by ``python -m sim``."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

from ..config import DEFAULT, ArrayConfig


class Parser(argparse.ArgumentParser):
    """argparse with a one-line ``error: ...`` (naming the option, exit status 2) instead of the
    usage block: the same form as every other bad-input error of the command."""

    def error(self, message):
        self.exit(2, f"error: {message} (`{self.prog} --help` lists the options)\n")


class UsageError(ValueError):
    """A command-line value that is wrong on its own (an empty range, an unknown name, a size
    below 1); the message names the flag and says how to fix it (``python -m hw``: exit 2)."""


def positive_float(text: str) -> float:
    """argparse type of a float option that must be a finite number > 0 (``inf`` and ``nan``
    are refused: they would reach the JSON outputs as Infinity/NaN, which is not JSON)."""
    try:
        val = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(val) or val <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return val


def positive_int(text: str) -> int:
    """argparse type of an integer option that must be >= 1."""
    try:
        val = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if val < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return val


def add_bandwidth_args(p: argparse.ArgumentParser) -> None:
    """--bandwidth-gbs (alias --bandwidth) or --bandwidth-bpc, and --batch: the off-chip model
    of :mod:`hw.cost.memory_bound` (:func:`bandwidth_from_args`)."""
    from ..cost.memory_bound import DEFAULT_BANDWIDTH_GBS

    g = p.add_argument_group("off-chip bandwidth and batch (hw/cost/memory_bound.py)")
    one = g.add_mutually_exclusive_group()
    one.add_argument("--bandwidth-gbs", "--bandwidth", type=positive_float, metavar="GBPS",
                     help=f"off-chip bandwidth in GB/s (default {DEFAULT_BANDWIDTH_GBS:g}: an "
                     "assumption, a 16-bit DDR3-800 at the ECP5's DDR3 limit; hw/README.md)")
    one.add_argument("--bandwidth-bpc", type=positive_float, metavar="BYTES",
                     help="off-chip bandwidth in bytes per cycle of the array clock "
                     "(instead of --bandwidth-gbs)")
    g.add_argument("--batch", type=positive_int, default=1, metavar="N",
                   help="frames per batch: weights are loaded once per batch (default 1)")


def bandwidth_from_args(ns):
    """The :class:`hw.cost.memory_bound.Bandwidth` of --bandwidth-gbs / --bandwidth-bpc (the
    default assumption :data:`~hw.cost.memory_bound.DEFAULT_BANDWIDTH` when neither is given)."""
    from ..cost.memory_bound import DEFAULT_BANDWIDTH, Bandwidth

    if ns.bandwidth_bpc is not None:
        return Bandwidth(ns.bandwidth_bpc, "B/cycle", "given on the command line")
    if ns.bandwidth_gbs is not None:
        return Bandwidth(ns.bandwidth_gbs, "GB/s", "given on the command line")
    return DEFAULT_BANDWIDTH


_FIELDS = ("rows", "cols", "simd", "max_k", "max_m", "max_n", "pool_bits", "pool_max_dim",
           "pool_max_planes", "pool_max_kernel", "pool_open_rows", "pool_row_depth",
           "mem_piece_depth", "drain_rows", "hold_banks",
           "pool_lanes", "load_rows", "pool_port", "core_parts", "keep_weights",
           "w_buffers", "ctl_regs", "pe_flag_regs", "loader_regs", "a_buffers")

#: help beyond the default, for the fields that need it
_HELP = {"pool_lanes": "planes the pool unit sums at once, L; 0 means --cols; at most "
                       "--drain-rows x --cols (one result beat)",
         "load_rows": "operand rows per matmul load beat, G (a power of two dividing --rows "
                      "and --cols; 0 means the largest); the data beat is G words wide",
         "pool_port": "1: the pool unit is a core of its own with its own command/data/result "
                      "streams (s_axis_pool_cmd, s_axis_pool_data, m_axis_pool_res), so pool "
                      "jobs run beside matmul jobs; 0: one core, one set of streams",
         "core_parts": "1 (the default): the matmul core built from parts (hw/rtl/parts); "
                       "0: the single-module core (same streams, results and cycles; what "
                       "the records written before 2026-12-05 measure)",
         "keep_weights": "1: a matmul command may keep the previous job's weights (its "
                         "data beats are then A only; the M chunks of a layer load W once); "
                         "needs --core-parts 1",
         "w_buffers": "2: the weight banks hold two jobs' weights, so the next matmul's W "
                      "loads while the current one computes (its command is taken once the "
                      "current job's operands are in); needs --core-parts 1",
         "a_buffers": "2: the activation banks hold two jobs' A rows, so a matmul taken "
                      "ahead loads its A rows too (after its W) while the current one "
                      "computes; needs --w-buffers 2",
         "ctl_regs": "1: control signals that fan out across the die (the command ready, "
                     "the last word's mask and padding flag, the output queue's entry "
                     "enables) come from registers of their own (shorter die-wide paths; "
                     "same cycles); 2: as 1, and copies of the AND-mode flag per result "
                     "column and of the loader's W flag for its padding; needs --core-parts 1",
         "pe_flag_regs": "1: every PE's flags register its own, kept apart (Yosys otherwise "
                         "merges those of an anti-diagonal of PEs into one that drives hold "
                         "enables across the die; same cycles)",
         "loader_regs": "1: the operand loader decodes each command's K, N and M into "
                        "registers of its own (not job control's, placed far from the "
                        "banks; same cycles); 2: as 1, and the bank writes take the load "
                        "beat from a run flag of their own (the loader's control keeps its "
                        "handshake beside it; same cycles); needs --core-parts 1"}


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """--rows/--cols/--simd/--max-k/... with the defaults of :data:`hw.config.DEFAULT`."""
    g = parser.add_argument_group("array configuration (defaults: hw.config.DEFAULT)")
    for name in _FIELDS:
        g.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(DEFAULT, name),
                       help=(_HELP[name] + "; " if name in _HELP else "")
                       + f"default {getattr(DEFAULT, name)}")
    g.add_argument("--clock-mhz", type=positive_float, default=DEFAULT.clock_mhz,
                   help=f"default {DEFAULT.clock_mhz}")


def config_from_args(args) -> ArrayConfig:
    """The validated :class:`ArrayConfig` named by the parsed arguments (raises ConfigError)."""
    return ArrayConfig(**{name: getattr(args, name) for name in _FIELDS},
                       clock_mhz=args.clock_mhz)


# ---- devices and resource records (synth, estimate) ----------------------------------------------
def add_device_arg(p: argparse.ArgumentParser, default: str | None = "ecp5-85",
                   required: bool = False) -> None:
    """--device, its help listing the valid names."""
    from ..cost.devices import DEVICES

    p.add_argument("--device", default=default, required=required,
                   help=f"target device, one of: {', '.join(DEVICES)}"
                   + (f" (default {default})" if default else ""))


def print_record(rec: dict) -> None:
    """One JSON line on stdout."""
    print(json.dumps(rec, sort_keys=False), flush=True)


def check_fit(rec: dict, dev) -> int:
    """Add ``fits``/``over`` to ``rec``; message on stderr and status 3 when it does not fit."""
    from ..cost.devices import fit_fields

    rec.update(fit_fields(rec, dev))
    if not rec["fits"]:
        msg = "; ".join(f"{k} {float(rec[k] or 0):.0f} > {dev.capacity[k]} (over by {o:.0f}, "
                        f"{rec['utilization_percent'][k]:.0f}%)" for k, o in rec["over"].items())
        print(f"error: does not fit {dev.name}: {msg}", file=sys.stderr)
        return 3
    return 0


# ---- networks (network, report, dse) ------------------------------------------------------------
def add_network_args(p: argparse.ArgumentParser, device_required: bool = False) -> None:
    """--network, --device and the array-config options."""
    from ..cost.network import NETWORKS

    p.add_argument("--network", required=True, metavar="NAME",
                   help=f"one of: {', '.join(NETWORKS)}")
    add_device_arg(p, default=None, required=device_required)
    add_config_args(p)


def network_out_dir(ns) -> Path:
    """``--out`` when given, else ``reports/<network>`` (:data:`hw.paths.REPORTS_DIR`, the
    network's canonical lower-case name as :func:`hw.cost.network.load_network` spells it)."""
    from ..paths import REPORTS_DIR

    return Path(ns.out) if ns.out else REPORTS_DIR / str(ns.network).strip().lower()


def command_line(sub: str, ns, extra=(), *, defaults=None) -> str:
    """The command line that reproduces this run: the network (when the command has one), the
    device, R/C/SIMD and every config field that differs from hw.config.DEFAULT, then the
    ``extra`` option names that are set, except those equal to their value in ``defaults``."""
    from ..config import config_flags

    defaults = defaults or {}
    parts = ["python", "-m", "hw", sub]
    if getattr(ns, "network", None):
        parts += ["--network", ns.network]
    if getattr(ns, "device", None):
        parts += ["--device", ns.device]
    parts += config_flags(config_from_args(ns), () if sub == "dse" else ("rows", "cols", "simd"))
    for opt in extra:
        val = getattr(ns, opt)
        if val not in (None, False) and not (opt in defaults and val == defaults[opt]):
            flag = "--" + opt.replace("_", "-")
            if val is True:
                parts.append(flag)
            else:
                parts += [flag] + [str(v) for v in (val if isinstance(val, (list, tuple))
                                                     else [val])]
    return " ".join(shlex.quote(p) for p in parts)
