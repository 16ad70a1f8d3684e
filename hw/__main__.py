"""``python -m hw``: Verilog generation, the cycle and network cost models, synthesis, the resource
model, the design-space sweep and the reports.

Each command is one module in hw/cli/ (its docstring is the command's help); this file only
assembles them. ``python -m hw COMMAND --help`` for the options of one.

Exit status: 0 ok, 2 bad input (one line ``error: ...`` on stderr), 3 the config does not fit
the device, 1 a tool or a check failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: (command, module in hw/cli/) in the order ``--help`` lists them
COMMANDS = (
    ("verilog", "verilog"),
    ("cycles", "cycles"),
    ("config", "show_config"),
    ("synth", "synth"),
    ("estimate", "estimate"),
    ("fit", "fit"),
    ("network", "network"),
    ("report", "report"),
    ("dse", "dse"),
    ("bench", "bench"),
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command: each module's docstring is its help (first line) and
    description; its ``add_arguments(parser)`` adds the options, its ``run(args)`` runs it."""
    parser = argparse.ArgumentParser(prog="python -m hw", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, module in COMMANDS:
        mod = importlib.import_module(f".cli.{module}", __package__)
        doc = (mod.__doc__ or "").strip()
        p = sub.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(run=mod.run)
    return parser


def exit_status(exc: BaseException) -> int | None:
    """The exit status of a known error (its message is then printed as ``error: ...``), or
    None for anything else (a bug: the traceback is kept)."""
    from .config import ConfigError
    from .cost.devices import DeviceError
    from .cost.dse import DSEError
    from .cost.network import NetworkError
    from .cost.resources import ModelError
    from .synth.flow import SynthError

    if isinstance(exc, DeviceError):          # an estimate over the device's capacity: 3
        return 3 if "does not fit" in str(exc) else 2
    if isinstance(exc, DSEError):             # nothing in the sweep fits: 3
        return 3 if "fits" in str(exc) else 2
    if isinstance(exc, SynthError):           # yosys / nextpnr failed
        return 1
    if isinstance(exc, (ConfigError, NetworkError, ModelError, ValueError)):
        return 2                              # ValueError: also the op-file's JobError
    return None


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except Exception as exc:  # noqa: BLE001 -- only the known classes, see exit_status
        status = exit_status(exc)
        if status is None:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
