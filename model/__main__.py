"""`python -m model {train,export,info}`: train the tiny digits BinaryViT, write golden tensors."""

from __future__ import annotations

import argparse
import json
import sys

DEFAULT_CHECKPOINT = "model/checkpoints/digits"


def _train(args) -> int:
    from .config import BinaryViTConfig, tiny_digits_config
    from .train import TrainSettings, print_metrics, train

    cfg = BinaryViTConfig.load(args.config) if args.config else tiny_digits_config()
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             seed=args.seed, max_shift=args.max_shift)
    metrics = train(args.out, cfg, settings)
    print_metrics(metrics)
    print(f"checkpoint written to {args.out}")
    return 0


def _export(args) -> int:
    import torch

    from .checkpoint import load_checkpoint
    from .data import digits_split
    from .export import export_golden

    model = load_checkpoint(args.checkpoint)
    cfg = model.config
    if (cfg.in_channels, cfg.image_size) != (1, 8):
        raise SystemExit(f"error: {args.checkpoint} is not a digits model (images "
                         f"{cfg.in_channels}x{cfg.image_size}x{cfg.image_size}); export runs "
                         "digits test images")
    _, _, x_test, y_test = digits_split()
    if not 1 <= args.images <= len(x_test):
        raise SystemExit(f"error: --images must be in 1..{len(x_test)} (the test split)")
    torch.set_num_threads(1)
    manifest = export_golden(model, x_test[:args.images], args.out, pool_bits=args.pool_bits,
                             labels=y_test[:args.images], source=str(args.checkpoint))
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a BinaryViT on scikit-learn's digits")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--config", help="model config JSON (default: the tiny digits config)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--max-shift", type=int, default=1, help="augmentation: max shift in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train)

    p = sub.add_parser("export", help="write golden binary tensors (one job file per op)")
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint directory")
    p.add_argument("--images", type=int, default=1, help="number of test images")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--pool-bits", type=int, default=16,
                   help="width of the signed fixed-point pooling inputs")
    p.set_defaults(func=_export)

    p = sub.add_parser("info", help="print a checkpoint's config and size")
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT)
    p.set_defaults(func=_info)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
