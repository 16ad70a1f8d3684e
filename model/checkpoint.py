"""Our checkpoint format: a directory with config.json, weights.pt (our state dict) and, after
training, metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .binaryvit import BinaryViT
from .config import BinaryViTConfig

CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE = "config.json", "weights.pt", "metrics.json"


class CheckpointError(ValueError):
    """A checkpoint directory is missing files or does not match its config."""


def save_checkpoint(directory, model: BinaryViT, metrics: dict | None = None) -> Path:
    """Write config.json, weights.pt (float32) and metrics.json into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save(directory / CONFIG_FILE)
    state = {k: (v.float() if v.is_floating_point() else v).clone()
             for k, v in model.state_dict().items()}
    torch.save(state, directory / WEIGHTS_FILE)
    if metrics is not None:
        (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return directory


def load_checkpoint(directory) -> BinaryViT:
    """Read a checkpoint directory written by save_checkpoint; the model comes back in eval mode."""
    directory = Path(directory)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory} is not a checkpoint directory: {name} is missing "
                                  "(train one with `python -m model train --out DIR`)")
    model = BinaryViT(BinaryViTConfig.load(directory / CONFIG_FILE))
    try:
        state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, OSError, EOFError) as exc:
        raise CheckpointError(f"{directory / WEIGHTS_FILE} cannot be loaded into the model its "
                              f"config.json describes: {exc}") from None
    return model.eval()
