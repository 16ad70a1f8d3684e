"""Our checkpoint format: a directory with config.json, weights.pt (our state dict) and
metrics.json, which carries the marker ``"kind": "bvit-checkpoint"`` and ``"format_version"``
(what lets `python -m model train` replace a folder it wrote, and nothing else) and, after
training, the metrics."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .binaryvit import BinaryViT
from .config import BinaryViTConfig

CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE = "config.json", "weights.pt", "metrics.json"
#: the marker in metrics.json of a checkpoint directory this project wrote
CHECKPOINT_KIND = "bvit-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint directory is missing files or does not match its config."""


def save_checkpoint(directory, model: BinaryViT, metrics: dict | None = None) -> Path:
    """Write config.json, weights.pt (float32) and metrics.json (the checkpoint marker plus
    ``metrics``) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save(directory / CONFIG_FILE)
    state = {k: (v.float() if v.is_floating_point() else v).clone()
             for k, v in model.state_dict().items()}
    torch.save(state, directory / WEIGHTS_FILE)
    marked = {**(metrics or {}), "kind": CHECKPOINT_KIND,
              "format_version": CHECKPOINT_FORMAT_VERSION}
    (directory / METRICS_FILE).write_text(json.dumps(marked, indent=2, sort_keys=True) + "\n")
    return directory


def is_checkpoint_dir(directory) -> bool:
    """True if ``directory``'s metrics.json carries this project's checkpoint marker and format
    version (so `python -m model train` wrote it and may replace it)."""
    try:
        d = json.loads((Path(directory) / METRICS_FILE).read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return False
    return (isinstance(d, dict) and d.get("kind") == CHECKPOINT_KIND
            and type(d.get("format_version")) is int
            and d["format_version"] == CHECKPOINT_FORMAT_VERSION)


def nonfinite_tensors(model) -> list[str]:
    """Names of the model's floating-point parameters and buffers that hold NaN or Inf."""
    return [k for k, v in model.state_dict().items()
            if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def state_mismatch(model, state: dict) -> str:
    """'' when ``state`` has exactly the model's keys and shapes, else a short summary: how
    many keys are missing, unexpected or of another shape, with the first of each."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shape = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    parts = []
    for what, keys in (("missing", missing), ("unexpected", extra), ("of another shape", shape)):
        if keys:
            parts.append(f"{len(keys)} key{'s' if len(keys) > 1 else ''} {what} (first: "
                         f"{keys[0]})")
    return ", ".join(parts)


def _trained_as(directory: Path, cfg: BinaryViTConfig) -> str:
    """The fix for weights that do not fit config.json: the variant / config metrics.json says
    they were trained as, when it says one that differs; else the general advice."""
    try:
        d = json.loads((directory / METRICS_FILE).read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        d = None
    trained = d.get("config") if isinstance(d, dict) else None
    if isinstance(trained, dict) and trained != cfg.to_dict():
        what = (f"variant {d['variant']!r}" if isinstance(d.get("variant"), str)
                else f"config {trained.get('name')!r}")
        return (f"{METRICS_FILE} says these weights were trained as {what}: put that training's "
                f"config.json next to them (its \"config\" in {METRICS_FILE}) or the weights.pt "
                f"of {cfg.name}")
    return "put the config.json these weights were trained with next to them"


def load_checkpoint(directory) -> BinaryViT:
    """Read a checkpoint directory written by save_checkpoint; the model comes back in eval mode.
    CheckpointError (or ConfigError) naming the file for anything that is not a usable
    checkpoint: missing files, a malformed config.json, a weights.pt that is not a state dict
    (random bytes, empty, a bare tensor), does not fit the config or holds NaN/Inf."""
    directory = Path(directory)
    hint = "(train one with `python -m model train --out DIR`)"
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint {directory} is not a folder; give a checkpoint "
                              f"directory {hint}")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory} is not a checkpoint directory: {name} is missing "
                                  f"{hint}")
    model = BinaryViT(BinaryViTConfig.load(directory / CONFIG_FILE))
    wpath = directory / WEIGHTS_FILE
    try:
        state = torch.load(wpath, map_location="cpu", weights_only=True)
    except Exception as exc:      # random bytes, empty, truncated, not a torch.save file
        kind = "it is empty" if wpath.stat().st_size == 0 else type(exc).__name__
        raise CheckpointError(f"{wpath} cannot be read as a PyTorch state dict ({kind}); it is "
                              f"damaged or not a weights file {hint}") from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{wpath} holds a {type(state).__name__}, not a state dict "
                              f"(parameter name -> tensor) {hint}")
    mismatch = state_mismatch(model, state)
    if mismatch:
        raise CheckpointError(f"{wpath} cannot be loaded into the model "
                              f"{directory / CONFIG_FILE} describes ({model.config.name}): "
                              f"{mismatch}; "
                              + _trained_as(directory, model.config))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) or first[0]
        raise CheckpointError(f"{wpath} cannot be loaded into the model its config.json "
                              f"describes: {detail[:300]}") from None
    bad = nonfinite_tensors(model)
    if bad:
        raise CheckpointError(f"{wpath} holds NaN or Inf values ({bad[0]}"
                              f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}); "
                              "retrain it")
    return model.eval()


def load_digits_checkpoint(directory, images: int, what: str):
    """(model, the first ``images`` digits test images, their labels) of a checkpoint folder
    of a digits model (1x8x8 images); CheckpointError naming the folder or the count when the
    model takes other images or ``images`` is outside the test split. ``what`` names the
    command's work in the message."""
    from .data import digits_split

    model = load_checkpoint(directory)
    cfg = model.config
    if (cfg.in_channels, cfg.image_size) != (1, 8):
        raise CheckpointError(f"--checkpoint {directory} is not a digits model (images "
                              f"{cfg.in_channels}x{cfg.image_size}x{cfg.image_size}); {what} "
                              "runs digits test images")
    _, _, x_test, y_test = digits_split()
    if not 1 <= images <= len(x_test):
        raise CheckpointError(f"--images must be in 1..{len(x_test)} (the digits test split has "
                              f"{len(x_test)} images), got {images}")
    return model, x_test[:images], y_test[:images]
