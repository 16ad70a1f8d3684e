"""Training of a BinaryViT on scikit-learn's digits (deterministic: fixed split, fixed seed)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from hw.outfiles import OutputError, atomic_dir, check_writable_dir

from .binaryvit import BinaryViT
from .checkpoint import is_checkpoint_dir, nonfinite_tensors, save_checkpoint
from .config import BinaryViTConfig, tiny_digits_config
from .data import SPLIT_SEED, TEST_FRACTION, digits_split


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser and schedule; the defaults are what the committed checkpoint used."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    max_shift: int = 1          # random translation augmentation, in pixels
    seed: int = 0
    threads: int = 1           # 2 intra-op threads on a busy 2-core box are ~40x slower

    def __post_init__(self):
        for key, lo in (("epochs", 1), ("batch_size", 1), ("max_shift", 0), ("seed", 0),
                        ("threads", 1)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{key} must be an integer >= {lo}, got {v!r}")
        if self.seed >= 2 ** 63:
            raise ValueError(f"seed must be below 2**63, got {self.seed}")
        for key, positive in (("lr", True), ("weight_decay", False)):
            v = getattr(self, key)
            if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    or v < 0 or (positive and v == 0)):
                raise ValueError(f"{key} must be a finite number {'>' if positive else '>='} 0, "
                                 f"got {v!r}")


@dataclass(frozen=True)
class Distillation:
    """Knowledge distillation from a trained teacher checkpoint (model/distill.py).

    kind "soft": the official BinaryViT scripts' loss, the teacher's softmax as the only target.
    kind "bivit": Bi-ViT's hard distillation (weight ``hard_alpha`` on the teacher's argmax, the
    rest on the labels) plus ``rank_weight`` x the ranking-aware attention loss over the
    teacher's top ``rank_topk`` keys of every query."""

    teacher: str
    kind: str = "soft"
    rank_weight: float = 1.0
    rank_topk: int = 4
    hard_alpha: float = 0.5

    def __post_init__(self):
        if self.kind not in ("soft", "bivit"):
            raise ValueError(f"distillation kind must be 'soft' or 'bivit', got {self.kind!r}")
        if isinstance(self.rank_topk, bool) or not isinstance(self.rank_topk, int) or \
                self.rank_topk < 1:
            raise ValueError(f"rank_topk must be an integer >= 1, got {self.rank_topk!r}")
        for key in ("rank_weight", "hard_alpha"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{key} must be a finite number >= 0, got {v!r}")


class TrainingDiverged(ValueError):
    """The loss or the weights became NaN or Inf; no checkpoint is written."""


def random_shift(images: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate every image by up to max_shift pixels, filling with the background (-1)."""
    if max_shift == 0:
        return images
    h, w = images.shape[2:]
    pad = F.pad(images, (max_shift,) * 4, value=-1.0)
    offsets = torch.randint(0, 2 * max_shift + 1, (len(images), 2), generator=gen).tolist()
    return torch.stack([pad[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets)])


@torch.no_grad()
def accuracy(model: BinaryViT, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    """Top-1 accuracy in eval mode."""
    model.eval()
    correct = sum(int((model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum())
                  for i in range(0, len(x), batch))
    return correct / len(x)


def check_checkpoint_out(out_dir, what: str = "output folder") -> Path:
    """``out_dir`` as an absolute Path that training may write: absent, empty or a checkpoint
    directory this project wrote (metrics.json with ``"kind": "bvit-checkpoint"``), in a
    writable folder; OutputError naming the path otherwise. Nothing is touched."""
    if Path(out_dir).is_symlink():
        raise OutputError(f"{what} {out_dir} is a symbolic link; give the folder it points to "
                          f"({os.path.realpath(out_dir)}) or another path")
    out_dir = check_writable_dir(Path(os.path.abspath(out_dir)), what)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not is_checkpoint_dir(out_dir):
        raise OutputError(f"{what} {out_dir} exists, is not empty and was not written by "
                          "`python -m model train` (its metrics.json has no \"kind\": "
                          "\"bvit-checkpoint\" marker); nothing was changed: choose another "
                          "folder or empty it yourself")
    return out_dir


def train(out_dir, cfg: BinaryViTConfig | None = None, settings: TrainSettings = TrainSettings(),
          progress: bool = True, what: str = "output folder", variant: str | None = None,
          distill: Distillation | None = None) -> dict:
    """Train on the digits training split, evaluate once on the held-out split, write a
    checkpoint directory (config.json, weights.pt, metrics.json); returns the metrics.

    The output is checked before training (OutputError: a file, not writable, or a non-empty
    folder that is not a checkpoint this project wrote) and written whole or not at all
    (:func:`hw.outfiles.atomic_dir`). A NaN or Inf loss or weight stops training with
    TrainingDiverged and writes nothing. ``distill`` trains against a teacher checkpoint
    (checked before training); ``variant`` is recorded in the metrics."""
    from tqdm import tqdm

    cfg = cfg or tiny_digits_config()
    if (cfg.in_channels, cfg.image_size) != (1, 8):
        raise ValueError("the digits set has 1x8x8 images: use in_channels=1, image_size=8")
    out_dir = check_checkpoint_out(out_dir, what)
    teacher = _load_teacher(cfg, distill) if distill is not None else None
    with atomic_dir(out_dir, owned=is_checkpoint_dir, what=what) as tmp:
        model, metrics = _train(cfg, settings, progress, tqdm, teacher, distill)
        if variant is not None:
            metrics["variant"] = variant
        save_checkpoint(tmp, model, metrics)
    return metrics


def _load_teacher(cfg: BinaryViTConfig, distill: Distillation) -> BinaryViT:
    """The teacher checkpoint in eval mode; ValueError (naming it) if it cannot teach ``cfg``."""
    from .checkpoint import load_checkpoint
    from .distill import attention_ranking_loss, capturing_attention

    teacher = load_checkpoint(distill.teacher)
    tcfg = teacher.config
    if (tcfg.in_channels, tcfg.image_size, tcfg.num_classes) != (
            cfg.in_channels, cfg.image_size, cfg.num_classes):
        raise ValueError(f"teacher {distill.teacher} takes {tcfg.in_channels}x{tcfg.image_size}"
                         f"x{tcfg.image_size} images to {tcfg.num_classes} classes; the student "
                         f"{cfg.in_channels}x{cfg.image_size}x{cfg.image_size} to "
                         f"{cfg.num_classes}")
    if distill.kind == "bivit":     # the attention layers must pair up: try it on two images
        torch.manual_seed(0)
        probe = torch.zeros(2, cfg.in_channels, cfg.image_size, cfg.image_size)
        student = BinaryViT(cfg).eval()
        with torch.no_grad(), capturing_attention() as s_caps:
            student(probe)
        with torch.no_grad(), capturing_attention() as t_caps:
            teacher(probe)
        try:
            attention_ranking_loss(s_caps, t_caps, distill.rank_topk)
        except ValueError as exc:
            raise ValueError(f"teacher {distill.teacher} cannot teach ranking-aware "
                             f"distillation: {exc}") from None
    return teacher


def _loss(model, xb, yb, teacher, distill):
    """The training loss of one batch: cross-entropy, or the distillation loss."""
    if teacher is None:
        return F.cross_entropy(model(xb), yb)
    from .distill import (attention_ranking_loss, capturing_attention, distribution_loss,
                          hard_distillation_loss)

    # the attention maps are captured only for the ranking loss (they hold the student's graph)
    rank = distill.kind != "soft" and bool(distill.rank_weight)
    capture = capturing_attention if rank else contextlib.nullcontext
    with capture() as s_caps:
        logits = model(xb)
    with torch.no_grad(), capture() as t_caps:
        t_logits = teacher(xb)
    if distill.kind == "soft":
        return distribution_loss(logits, t_logits)
    loss = hard_distillation_loss(logits, t_logits, yb, distill.hard_alpha)
    if rank:
        loss = loss + distill.rank_weight * attention_ranking_loss(s_caps, t_caps,
                                                                   distill.rank_topk)
    return loss


def _diverged(where: str, settings: TrainSettings) -> TrainingDiverged:
    return TrainingDiverged(f"training diverged: {where} with lr {settings.lr:g}; lower --lr "
                            "(no checkpoint was written)")


def _train(cfg: BinaryViTConfig, settings: TrainSettings, progress: bool,
           tqdm, teacher: BinaryViT | None = None,
           distill: Distillation | None = None) -> tuple[BinaryViT, dict]:
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    x_train, y_train, x_test, y_test = digits_split()
    model = BinaryViT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps_per_epoch = -(-len(x_train) // settings.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings.lr, epochs=settings.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.1)
    start = time.time()
    bar = tqdm(range(settings.epochs), desc="train", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for step, i in enumerate(range(0, len(order), settings.batch_size)):
            idx = order[i:i + settings.batch_size]
            xb = random_shift(x_train[idx], settings.max_shift, gen)
            loss = _loss(model, xb, y_train[idx], teacher, distill)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise _diverged(f"the loss is {value} at epoch {epoch + 1} step {step + 1}",
                                settings)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += value * len(idx)
        bar.set_postfix(loss=f"{total / len(x_train):.4f}")
    bad = nonfinite_tensors(model)
    if bad:
        raise _diverged(f"{bad[0]} holds NaN or Inf after the last step", settings)
    metrics = {
        "dataset": "sklearn.datasets.load_digits",
        "split": {"seed": SPLIT_SEED, "test_fraction": TEST_FRACTION, "train": len(x_train),
                  "test": len(x_test)},
        "test_top1": accuracy(model, x_test, y_test),
        "train_top1": accuracy(model, x_train, y_train),
        "train_seconds": round(time.time() - start, 1),
        "settings": asdict(settings),
        "config": cfg.to_dict(),
        "fully_binary": _precision_note(cfg),
        "torch": torch.__version__, "machine": platform.machine(),
    }
    if distill is not None:
        metrics["distillation"] = {**asdict(distill),
                                   "teacher_test_top1": accuracy(teacher, x_test, y_test)}
    return model, metrics


def _precision_note(cfg: BinaryViTConfig) -> str:
    if not cfg.binary:
        return "no: a full-precision DeiT (the distillation teacher)"
    if cfg.fp_merge:
        return ("every transformer linear and attention product is binary; stem conv, patch "
                "merges and classifier are full precision (BinaryViT --some-fp)")
    if cfg.num_stages == 1:
        return ("every transformer linear and attention product is binary; stem conv and "
                "classifier are full precision")
    return ("every transformer linear, attention product and patch merge is binary; "
            "stem conv and classifier are full precision (as in BinaryViT)")


def print_metrics(metrics: dict) -> None:
    print(json.dumps({k: metrics[k] for k in ("test_top1", "train_top1", "train_seconds")}))
