"""The model at sizes the official code cannot run, and its element counts."""

import pytest
import torch

from model import BinaryViT, BinaryViTConfig
from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def small_pyramid(**over):
    base = dict(image_size=64, patch_size=4, in_channels=3, num_classes=7, dims=(16, 32, 64, 128),
                depths=(1, 1, 1, 1), heads=(1, 2, 4, 8), sr_ratios=(4, 2, 1, 1),
                ffn_sizes=(32, 64, 128, 256))
    return BinaryViTConfig(**(base | over))


@pytest.mark.parametrize("image_size", [64, 96, 128])
def test_runs_at_any_allowed_size(image_size):
    torch.manual_seed(0)
    cfg = small_pyramid(image_size=image_size)
    out = BinaryViT(cfg).eval()(torch.randn(2, 3, image_size, image_size))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_wrong_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 3, 64, 64\)"):
        BinaryViT(small_pyramid())(torch.randn(1, 3, 32, 32))


def test_binaryvit_s_binary_parameter_count():
    m = BinaryViT(BinaryViTConfig())
    binary = sum(p.numel() for n, p in m.named_parameters()
                 if n.endswith("weight") and p.dim() >= 2 and not n.startswith(("stem", "head")))
    total = sum(p.numel() for p in m.parameters())
    assert total == 22_491_771
    assert 21.1e6 < binary < 21.3e6           # the paper's count: 21.2 M binary


def test_branches_and_layerscale_can_be_disabled():
    m = BinaryViT(small_pyramid(pool_branches=False, layerscale=False))
    names = {n for n, _ in m.named_parameters()}
    assert not any("branch_scales" in n or "attn_scale" in n for n in names)
    m.eval()(torch.randn(1, 3, 64, 64))


def test_checkpoint_round_trip_and_errors(tmp_path):
    torch.manual_seed(0)
    m = BinaryViT(small_pyramid()).eval()
    save_checkpoint(tmp_path / "ck", m, {"test_top1": 0.5})
    back = load_checkpoint(tmp_path / "ck")
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(m(x), back(x))
    small_pyramid(num_classes=3).save(tmp_path / "ck" / "config.json")   # config disagrees
    with pytest.raises(CheckpointError, match="(?s)cannot be loaded.*head.weight"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="weights.pt is missing"):
        (tmp_path / "ck" / "weights.pt").unlink()
        load_checkpoint(tmp_path / "ck")
