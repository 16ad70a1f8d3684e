"""The handwritten-digits set that ships with scikit-learn (1,797 8x8 images; no download),
with a fixed stratified train/test split."""

from __future__ import annotations

import numpy as np
import torch

SPLIT_SEED = 0          # fixed: the held-out split never changes
TEST_FRACTION = 0.2     # 360 test images, 1,437 training images


def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train_x, train_y, test_x, test_y); images (B, 1, 8, 8) float32 scaled to [-1, 1]
    (pixel / 8 - 1; the raw pixels are 0..16)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)

    def to_images(a):
        return torch.from_numpy((a.reshape(-1, 1, 8, 8) / 8.0 - 1.0).astype(np.float32))

    return (to_images(x_train), torch.from_numpy(y_train).long(),
            to_images(x_test), torch.from_numpy(y_test).long())
