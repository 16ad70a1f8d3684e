"""`python -m model {train,export,integer,info}`: train the tiny digits BinaryViT, write golden
tensors (from the float model or, with `export --integer`, from the integer-only model), measure
the integer model against the float one.

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
from pathlib import Path

from .variants import TEACHER

DEFAULT_CHECKPOINT = "model/checkpoints/digits"
DEFAULT_TEACHER = f"{DEFAULT_CHECKPOINT.rsplit('/', 1)[0]}/{TEACHER}"


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
    from .train import Distillation, TrainSettings, check_checkpoint_out, print_metrics, train
    from .variants import get_variant

    variant = get_variant(args.variant) if args.variant else None
    if variant is not None and args.config:
        raise UsageError("give --variant or --config, not both (a variant brings its tiny config)")
    if variant is None and args.teacher:
        raise UsageError("--teacher needs --variant (the variant says how to distill)")
    if variant is not None:
        cfg = variant.tiny
    else:
        cfg = BinaryViTConfig.load(args.config) if args.config else tiny_digits_config()
    if (cfg.in_channels, cfg.image_size) != (1, 8):
        raise UsageError(f"--config {args.config}: the digits set has 1x8x8 images; use "
                         "in_channels 1 and image_size 8")
    distill = None
    if variant is not None and variant.kd != "none":
        teacher = args.teacher or DEFAULT_TEACHER
        if not (Path(teacher) / "config.json").is_file():
            raise UsageError(f"--teacher {teacher} is not a checkpoint directory; train the "
                             f"teacher first: python -m model train --variant fp-teacher --out "
                             f"{DEFAULT_TEACHER}")
        distill = Distillation(teacher=str(teacher), kind=variant.kd)
    out = check_checkpoint_out(args.out, "--out")      # before training
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             seed=args.seed, max_shift=args.max_shift)
    metrics = train(out, cfg, settings, what="--out", distill=distill,
                    variant=variant.name if variant else None)
    print_metrics(metrics)
    print(f"checkpoint written to {args.out}")
    return 0


def _export(args) -> int:
    import torch

    from .checkpoint import load_digits_checkpoint
    from .export import check_golden_out, export_golden

    model, x_test, y_test = load_digits_checkpoint(args.checkpoint, args.images, "export")
    check_golden_out(args.out, "--out")      # before the (long) trace and export
    torch.set_num_threads(1)
    if args.integer:
        return _export_integer(args, model, x_test, y_test)
    manifest = export_golden(model, x_test, args.out, pool_bits=args.pool_bits,
                             labels=y_test, source=str(args.checkpoint),
                             what="--out")
    print("fixed-point pooling vs float pooling (max |error| of the average; LSB of the input):")
    for op in manifest["ops"]:
        if op["kind"] == "pool":
            e = op["fixed_point_error"]
            print(f"  {op['name']:<40} frac_bits {op['frac_bits']:>2}  max|err| "
                  f"{e['max_abs_error']:.3e}  (|avg| <= {e['max_abs_value']:.3g}, lsb {e['lsb']:.3e})")
    print(json.dumps({"out": str(args.out), **manifest["summary"]}))
    return 0


def _export_integer(args, model, images, labels) -> int:
    from .integer import fold_model, quantize_images
    from .integer.calibrate import digits_calibration_images
    from .integer.export import export_integer_golden

    if args.pool_bits != 16:
        raise UsageError(f"--pool-bits {args.pool_bits}: the integer model's pool inputs are "
                         "16-bit; leave --pool-bits at 16 with --integer")
    int_model = fold_model(model, digits_calibration_images(args.calib_images))
    manifest = export_integer_golden(int_model, quantize_images(int_model, images), args.out,
                                     labels=labels, source=f"{args.checkpoint} (integer model)",
                                     what="--out")
    print(json.dumps({"out": str(args.out), "integer": True, "params": "params/index.json",
                      **manifest["summary"]}))
    return 0


def _integer(args) -> int:
    import numpy as np
    import torch

    from hw.outfiles import check_writable_file, write_text_atomic

    from .checkpoint import load_digits_checkpoint
    from .integer import fold_model
    from .integer.calibrate import digits_calibration_images
    from .integer.compare import compare_with_float, format_report

    model, x_test, y_test = load_digits_checkpoint(args.checkpoint, args.images,
                                                   "the comparison")
    official = None
    if args.official is not None:
        official = Path(args.official)
        missing = [n for n in ("config.json", "state_dict.pt", "images.npy")
                   if not (official / n).is_file()]
        if missing:
            raise UsageError(f"--official {official}: not an official fixture folder ({', '.join(missing)} "
                             "missing); give e.g. ../shared/reference/official_small")
    if args.json is not None:
        check_writable_file(args.json, "--json")
    torch.set_num_threads(1)
    int_model = fold_model(model, digits_calibration_images(args.calib_images))
    result = {"kind": "bvit-integer-agreement", "format_version": 1,
              "checkpoint": str(args.checkpoint), "calibration_images": args.calib_images}
    digits = compare_with_float(model, int_model, x_test, y_test)
    print(format_report(digits, f"digits test split ({args.images} images), integer model vs "
                                f"float model (float64); calibration: first {args.calib_images} "
                                "training images"))
    result["digits"] = digits
    if official is not None:
        from .official import load_official

        m = load_official(official / "config.json", official / "state_dict.pt")
        images = torch.from_numpy(np.load(official / "images.npy"))
        om = fold_model(m, images)
        res = compare_with_float(m, om, images)
        print(format_report(res, f"official fixture {official} ({images.shape[0]} image(s), "
                                 f"{m.config.image_size} px, random weights; calibrated on the "
                                 f"same image(s); input int8 at 2^-{om.input.frac})"))
        result["official"] = res
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(result, indent=1) + "\n")
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
    p.add_argument("--variant", help="train a variant of the model family (model/variants.py: "
                   "its tiny config, distilled from --teacher as the variant's paper does): "
                   "binaryvit-s, binaryvit-s-somefp, reactdeit-s, reactdeit-s-avgpool, "
                   "reactdeit-s-avgpool-mb, reactdeit-s-avgpool-mb-ls, bivit-deit-t, fp-teacher")
    p.add_argument("--teacher", help="teacher checkpoint directory for --variant (default: "
                   f"{DEFAULT_TEACHER}, made by --variant fp-teacher)")
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
    p.add_argument("--integer", action="store_true",
                   help="export from the integer-only model (model/INTEGER.md): same files and "
                   "op order, integer operands; its constants go into OUT/params/")
    p.add_argument("--calib-images", type=_int_in(1, 1437), default=512,
                   help="with --integer: calibration images (the first N of the digits "
                   "training split)")
    p.set_defaults(func=_export)

    p = sub.add_parser("integer", parents=[debug],
                       help="fold a checkpoint into the integer-only model and print its "
                       "agreement with the float model")
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint directory")
    p.add_argument("--images", type=_int_in(1), default=360,
                   help="number of digits test images compared (default: all 360)")
    p.add_argument("--calib-images", type=_int_in(1, 1437), default=512,
                   help="calibration images: the first N of the digits training split")
    p.add_argument("--official", metavar="DIR", help="also run an official fixture folder "
                   "(config.json, state_dict.pt, images.npy; e.g. "
                   "../shared/reference/official_small)")
    p.add_argument("--json", metavar="OUT", help="write every figure to this JSON file")
    p.set_defaults(func=_integer)

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
    from hw.outfiles import exit_with

    exit_with(main)
