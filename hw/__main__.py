"""``python -m hw``: Verilog generation, the cycle and network cost models, synthesis, the resource
model, the design-space sweep and the reports.

Each command is one module in hw/cli/ (its docstring is the command's help); this file only
assembles them. ``python -m hw COMMAND --help`` for the options of one.

Exit status: 0 ok, 2 bad input (one line ``error: ...`` on stderr naming the flag or file;
nothing is written), 3 the config does not fit the device, 1 a tool or a check failed or an
output could not be written (disk full), 130 interrupted. ``--debug`` shows the traceback of
an error instead. Every output is written whole or not at all (hw/outfiles.py).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import re
import sys
import threading
from pathlib import Path

from .cli.common import Parser

#: (command, module in hw/cli/) in the order ``--help`` lists them
COMMANDS = (
    ("verilog", "verilog"),
    ("cycles", "cycles"),
    ("config", "show_config"),
    ("synth", "synth"),
    ("estimate", "estimate"),
    ("fit", "fit"),
    ("seeds", "seeds"),
    ("network", "network"),
    ("report", "report"),
    ("dse", "dse"),
    ("compare", "compare"),
    ("bench", "bench"),
    ("baseline", "baseline"),
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command: each module's docstring is its help (first line) and
    description; its ``add_arguments(parser)`` adds the options, its ``run(args)`` runs it."""
    parser = Parser(prog="python -m hw", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the Python traceback instead of one line")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, module in COMMANDS:
        mod = importlib.import_module(f".cli.{module}", __package__)
        doc = (mod.__doc__ or "").strip()
        p = sub.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        # also after the command name; SUPPRESS keeps the top-level value when absent
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
        p.set_defaults(run=mod.run)
    return parser


def error_statuses() -> tuple[tuple[type, int], ...]:
    """(error class, exit status) of the project's own errors, the first match wins: a subclass
    is listed before its base. Anything else (a plain ValueError, KeyError, ...) is a bug and
    keeps its traceback."""
    from .cli.common import UsageError
    from .config import ConfigError
    from .cost.devices import DeviceError, DeviceFitError
    from .cost.dse import DSEError, DSENoFitError
    from .cost.memory_bound import BandwidthError
    from .cost.network import NetworkError
    from .cost.resources import ModelError
    from .opfile import JobError
    from .outfiles import InputFileError, OutputError
    from .synth.flow import SynthError
    from .synth.rerun import RerunError
    from .synth.sweep import SweepError

    return ((DeviceFitError, 3),    # the resource model's estimate is over the device
            (DSENoFitError, 3),     # nothing in the sweep fits the device
            (SynthError, 1),        # yosys / nextpnr failed
            (DeviceError, 2), (DSEError, 2), (ConfigError, 2), (NetworkError, 2),
            (ModelError, 2), (JobError, 2), (OutputError, 2), (InputFileError, 2),
            (UsageError, 2), (SweepError, 2), (RerunError, 2), (BandwidthError, 2))


#: OSError numbers that are the machine's state, not a bug: one line, exit status 1
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                       errno.EIO, errno.EMFILE, errno.ENFILE}


def exit_status(exc: BaseException) -> int | None:
    """The exit status of a known error (its message is then printed as ``error: ...``), or
    None for anything else (a bug: the traceback is kept)."""
    for cls, status in error_statuses():
        if isinstance(exc, cls):
            return status
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
        return 1                  # disk full, read-only, permission denied while writing
    return None


_TEMP = re.compile(r"\.(.+)\.tmp-\d+(\.old.*)?")


def error_line(exc: BaseException, status: int, args=None) -> str:
    """The ``error: ...`` text printed for a known error: one line for bad input (status 2);
    a tool's failure (status 1) keeps the tool output its message quotes. An OSError (disk
    full) names its file, else the command's output option."""
    if isinstance(exc, OSError):
        if exc.filename:
            # in a temporary of hw/outfiles.py (.NAME.tmp-PID): name the output it was for
            shown = str(Path(*(m.group(1) if (m := _TEMP.fullmatch(part)) else part
                               for part in Path(str(exc.filename)).parts)))
        else:
            opts = [f"--{o.replace('_', '-')} {getattr(args, o)}" for o in
                    ("out", "out_dir", "table", "append", "keep", "json")
                    if getattr(args, o, None)]
            shown = "writing " + (", ".join(opts) if opts else "the outputs")
        return f"error: {shown}: {exc.strerror}; unfinished outputs were removed"
    text = str(exc)
    return "error: " + (" ".join(text.split()) if status != 1 else text)


def main(argv=None) -> int:
    from .outfiles import exit_on_sigterm

    if threading.current_thread() is threading.main_thread():
        exit_on_sigterm()   # SIGTERM runs the cleanup of temporaries like Ctrl-C
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("error: interrupted; unfinished outputs were removed", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- only the known classes, see exit_status
        status = exit_status(exc)
        if status is None or args.debug:
            raise
        print(error_line(exc, status, args), file=sys.stderr)
        return status


if __name__ == "__main__":
    from .outfiles import exit_with

    exit_with(main)
