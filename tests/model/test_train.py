"""Training: determinism (same seed, same weights and files byte for byte) and the data split."""

import torch

from model.config import BinaryViTConfig
from model.data import digits_split
from model.train import TrainSettings, random_shift, train

MICRO = BinaryViTConfig(image_size=8, patch_size=1, in_channels=1, num_classes=10, dims=(8, 16),
                        depths=(1, 1), heads=(1, 1), sr_ratios=(2, 1), ffn_sizes=(16, 32))


def test_digits_split_is_fixed_and_stratified():
    x_train, y_train, x_test, y_test = digits_split()
    assert (len(x_train), len(x_test)) == (1437, 360)
    assert x_train.shape[1:] == (1, 8, 8) and x_train.min() == -1 and x_train.max() == 1
    assert torch.bincount(y_test).min() >= 35                 # every class held out
    again = digits_split()
    assert torch.equal(again[2], x_test) and torch.equal(again[3], y_test)


def test_random_shift_moves_content_and_fills_background():
    img = torch.full((1, 1, 4, 4), -1.0)
    img[0, 0, 1, 1] = 1.0
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        out = random_shift(img, 1, gen)
        assert out.shape == img.shape and (out == 1).sum() == 1 and (out == -1).sum() == 15


def test_training_is_deterministic_byte_for_byte(tmp_path):
    settings = TrainSettings(epochs=1, batch_size=256, seed=5)
    m1 = train(tmp_path / "a", MICRO, settings, progress=False)
    m2 = train(tmp_path / "b", MICRO, settings, progress=False)
    assert m1["test_top1"] == m2["test_top1"]
    for name in ("weights.pt", "config.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    train(tmp_path / "c", MICRO, TrainSettings(epochs=1, batch_size=256, seed=6), progress=False)
    assert (tmp_path / "c" / "weights.pt").read_bytes() != (tmp_path / "a" / "weights.pt").read_bytes()


def test_committed_checkpoint_reaches_its_stated_accuracy():
    """model/checkpoints/digits (made by `make train`) re-evaluates to its metrics.json top-1."""
    import json
    from pathlib import Path

    from model.checkpoint import load_checkpoint
    from model.train import accuracy

    ckpt = Path(__file__).resolve().parents[2] / "model" / "checkpoints" / "digits"
    metrics = json.loads((ckpt / "metrics.json").read_text())
    _, _, x_test, y_test = digits_split()
    top1 = accuracy(load_checkpoint(ckpt), x_test, y_test)
    assert top1 == metrics["test_top1"] >= 0.95
    assert metrics["settings"] == TrainSettings().__dict__ | {"threads": 1}
