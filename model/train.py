"""Training of a BinaryViT on scikit-learn's digits (deterministic: fixed split, fixed seed)."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .binaryvit import BinaryViT
from .checkpoint import save_checkpoint
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
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.max_shift < 0:
            raise ValueError("epochs and batch_size must be >= 1, lr > 0, max_shift >= 0")


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


def train(out_dir, cfg: BinaryViTConfig | None = None, settings: TrainSettings = TrainSettings(),
          progress: bool = True) -> dict:
    """Train on the digits training split, evaluate once on the held-out split, write a
    checkpoint directory (config.json, weights.pt, metrics.json); returns the metrics."""
    from tqdm import tqdm

    cfg = cfg or tiny_digits_config()
    if (cfg.in_channels, cfg.image_size) != (1, 8):
        raise ValueError("the digits set has 1x8x8 images: use in_channels=1, image_size=8")
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
    for _ in bar:
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(order), settings.batch_size):
            idx = order[i:i + settings.batch_size]
            xb = random_shift(x_train[idx], settings.max_shift, gen)
            loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        bar.set_postfix(loss=f"{total / len(x_train):.4f}")
    metrics = {
        "dataset": "sklearn.datasets.load_digits",
        "split": {"seed": SPLIT_SEED, "test_fraction": TEST_FRACTION, "train": len(x_train),
                  "test": len(x_test)},
        "test_top1": accuracy(model, x_test, y_test),
        "train_top1": accuracy(model, x_train, y_train),
        "train_seconds": round(time.time() - start, 1),
        "settings": asdict(settings),
        "config": cfg.to_dict(),
        "fully_binary": "every transformer linear, attention product and patch merge is binary; "
                        "stem conv and classifier are full precision (as in BinaryViT)",
        "torch": torch.__version__, "machine": platform.machine(),
    }
    save_checkpoint(out_dir, model, metrics)
    return metrics


def print_metrics(metrics: dict) -> None:
    print(json.dumps({k: metrics[k] for k in ("test_top1", "train_top1", "train_seconds")}))
