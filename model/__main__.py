"""`python -m model {train,export,info}`: train the tiny digits BinaryViT, write golden tensors.

Every user mistake (a bad flag value, a damaged checkpoint or config, an output folder that
cannot or may not be written) is refused before any work with exit code 2 and one
``error: ...`` line naming the file or flag; ``--debug`` shows the Python traceback instead.
Outputs are written whole or not at all (hw/outfiles.py), and a folder is replaced only if it
carries this project's marker (a golden manifest.json, a checkpoint's metrics.json).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading

DEFAULT_CHECKPOINT = "model/checkpoints/digits"


class UsageError(ValueError):
    """A flag value that cannot be used; exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line ``error: ...`` (exit 2) instead of usage + message."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def _int_in(lo: int, hi: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            span = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be an integer {span}, got {value}")
        return value
    parse.__name__ = "int"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _train(args) -> int:
    from .config import BinaryViTConfig, tiny_digits_config
    from .train import TrainSettings, check_checkpoint_out, print_metrics, train

    cfg = BinaryViTConfig.load(args.config) if args.config else tiny_digits_config()
    if (cfg.in_channels, cfg.image_size) != (1, 8):
        raise UsageError(f"--config {args.config}: the digits set has 1x8x8 images; use "
                         "in_channels 1 and image_size 8")
    out = check_checkpoint_out(args.out, "--out")      # before training
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             seed=args.seed, max_shift=args.max_shift)
    metrics = train(out, cfg, settings, what="--out")
    print_metrics(metrics)
    print(f"checkpoint written to {args.out}")
    return 0


def _export(args) -> int:
    import torch

    from .checkpoint import load_checkpoint
    from .data import digits_split
    from .export import check_golden_out, export_golden

    model = load_checkpoint(args.checkpoint)
    cfg = model.config
    if (cfg.in_channels, cfg.image_size) != (1, 8):
        raise UsageError(f"--checkpoint {args.checkpoint} is not a digits model (images "
                         f"{cfg.in_channels}x{cfg.image_size}x{cfg.image_size}); export runs "
                         "digits test images")
    _, _, x_test, y_test = digits_split()
    if not 1 <= args.images <= len(x_test):
        raise UsageError(f"--images must be in 1..{len(x_test)} (the test split), got "
                         f"{args.images}")
    check_golden_out(args.out, "--out")      # before the (long) trace and export
    torch.set_num_threads(1)
    manifest = export_golden(model, x_test[:args.images], args.out, pool_bits=args.pool_bits,
                             labels=y_test[:args.images], source=str(args.checkpoint),
                             what="--out")
    print("fixed-point pooling vs float pooling (max |error| of the average; LSB of the input):")
    for op in manifest["ops"]:
        if op["kind"] == "pool":
            e = op["fixed_point_error"]
            print(f"  {op['name']:<40} frac_bits {op['frac_bits']:>2}  max|err| "
                  f"{e['max_abs_error']:.3e}  (|avg| <= {e['max_abs_value']:.3g}, lsb {e['lsb']:.3e})")
    print(json.dumps({"out": str(args.out), **manifest["summary"]}))
    return 0


def _info(args) -> int:
    from .checkpoint import load_checkpoint

    model = load_checkpoint(args.checkpoint)
    n = sum(p.numel() for p in model.parameters())
    print(json.dumps({"config": model.config.to_dict(), "parameters": n}, indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    debug = _Parser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the Python traceback of an error")
    parser = _Parser(prog="python -m model", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", parents=[debug], help="train a BinaryViT on scikit-learn's digits")
    p.add_argument("--out", required=True, help="checkpoint directory to write (replaced only "
                   "if it is a checkpoint written by this command)")
    p.add_argument("--config", help="model config JSON (default: the tiny digits config)")
    p.add_argument("--epochs", type=_int_in(1), default=100)
    p.add_argument("--batch-size", type=_int_in(1), default=64)
    p.add_argument("--lr", type=_positive_float, default=3e-3, help="peak learning rate")
    p.add_argument("--max-shift", type=_int_in(0, 7), default=1,
                   help="augmentation: max shift in pixels")
    p.add_argument("--seed", type=_int_in(0, 2 ** 63 - 1), default=0)
    p.set_defaults(func=_train)

    p = sub.add_parser("export", parents=[debug],
                       help="write golden binary tensors (one job file per op)")
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint directory")
    p.add_argument("--images", type=_int_in(1), default=1, help="number of test images")
    p.add_argument("--out", required=True, help="output directory (replaced only if it is a "
                   "golden directory: manifest.json with \"kind\": \"bvit-golden\")")
    p.add_argument("--pool-bits", type=_int_in(2, 32), default=16,
                   help="width of the signed fixed-point pooling inputs")
    p.set_defaults(func=_export)

    p = sub.add_parser("info", parents=[debug], help="print a checkpoint's config and size")
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT)
    p.set_defaults(func=_info)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv=None) -> int:
    if threading.current_thread() is threading.main_thread():
        from hw.outfiles import exit_on_sigterm
        exit_on_sigterm()            # SIGTERM -> SystemExit: temporaries are removed
    args = build_parser().parse_args(argv)
    if args.debug:
        return args.func(args)
    try:
        return args.func(args)
    except ValueError as exc:        # ConfigError, CheckpointError, JobError, OutputError, ...
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:         # a bug, not a user mistake: still one line
        print(f"error: internal error ({type(exc).__name__}: {_one_line(exc)}); rerun with "
              "--debug for the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
