"""The model family (model/variants.py): impossible combinations refused in one line, every
variant built and run at its tiny and (reduced-depth) official size, the class token and the
pooling branches together, and the committed variant checkpoints."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from model import BinaryViT, BinaryViTConfig, ConfigError
from model.variants import VARIANTS, get_variant

CHECKPOINTS = Path(__file__).resolve().parents[2] / "model" / "checkpoints"
PLAIN = dict(image_size=32, patch_size=4, in_channels=3, num_classes=5, dims=(32,), depths=(1,),
             heads=(2,), sr_ratios=(1,), ffn_sizes=(64,))


@pytest.mark.parametrize("change, message", [
    (dict(cls_token=True), "cls_token needs a single stage"),
    (PLAIN | dict(cls_token=True, sr_ratios=(2,)), "set sr_ratios to 1 or cls_token false"),
    (PLAIN | dict(fp_merge=True), "set fp_merge false"),
    (dict(block="bivit"), "give one stage"),
    (PLAIN | dict(block="bivit"), "set sr_ratios [1], pool_branches false and layerscale false"),
    (PLAIN | dict(block="deit", pool_branches=False, layerscale=True), "layerscale false"),
    (dict(block="swin"), "block must be one of binaryvit, bivit, deit"),
    (dict(cls_token=1), "cls_token must be true or false"),
])
def test_impossible_combinations_are_one_line_errors(change, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        BinaryViTConfig(**change)
    assert "\n" not in str(info.value)


def _small_depth(cfg: BinaryViTConfig) -> BinaryViTConfig:
    return replace(cfg, depths=(1,) * cfg.num_stages)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_runs_tiny_and_at_official_size(name):
    torch.manual_seed(0)
    v = get_variant(name)
    for cfg, batch in ((v.tiny, 3), (_small_depth(v.official), 1)):
        m = BinaryViT(cfg)
        x = torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size)
        m.train()(x)                                     # BatchNorm statistics need a batch > 1
        with torch.no_grad():
            out = m.eval()(x)
        assert out.shape == (batch, cfg.num_classes) and torch.isfinite(out).all(), name


def test_unknown_variant_names_the_valid_ones():
    with pytest.raises(ConfigError, match="valid variants: binaryvit-s, "):
        get_variant("deit-b")


@pytest.mark.parametrize("size", [32, 48])
def test_class_token_with_pooling_branches_at_any_width_and_size(size):
    """What the official plain-ViT code cannot run (its branches hard-code 384 x 14 x 14): a
    class token with the four pooling branches, here 24 wide on 8x8 and 12x12 grids. The class
    token gets no branch term: its output is the same with the branch scales zeroed."""
    torch.manual_seed(0)
    cfg = BinaryViTConfig(**PLAIN | dict(image_size=size, dims=(24,), heads=(2,), ffn_sizes=(48,),
                                         cls_token=True, pool_branches=True, layerscale=True))
    m = BinaryViT(cfg)
    m.train()(torch.randn(4, 3, size, size))
    block = m.stages[0].blocks[0].eval()
    with torch.no_grad():
        for scale in block.branch_scales.values():
            scale.scale.fill_(3.0)
            scale.shift.fill_(1.0)
        x = torch.randn(2, 1 + cfg.stage_tokens[0], 24)
        grid = cfg.stage_grids[0]
        with_branches = block(x, grid)
        for scale in block.branch_scales.values():
            scale.scale.zero_()
            scale.shift.zero_()
        without = block(x, grid)
    assert torch.equal(with_branches[:, 0], without[:, 0])
    assert not torch.allclose(with_branches[:, 1:], without[:, 1:])


def test_family_switches_left_out_of_json_at_their_defaults(tmp_path):
    """A BinaryViT config file is written exactly as before the family switches existed."""
    d = BinaryViTConfig().to_dict()
    assert not {"cls_token", "stem_norm", "fp_merge", "block"} & set(d)
    cfg = get_variant("bivit-deit-t").tiny
    cfg.save(tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text())["block"] == "bivit"
    assert BinaryViTConfig.load(tmp_path / "c.json") == cfg


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_committed_variant_checkpoint_reaches_its_stated_accuracy(name):
    from model.checkpoint import load_checkpoint
    from model.data import digits_split
    from model.train import accuracy

    ckpt = CHECKPOINTS / name
    if not (ckpt / "metrics.json").is_file():
        pytest.skip(f"no committed checkpoint for {name}")
    metrics = json.loads((ckpt / "metrics.json").read_text())
    m = load_checkpoint(ckpt)
    assert m.config == get_variant(name).tiny and metrics["variant"] == name
    assert (ckpt / "weights.pt").stat().st_size < 1_000_000
    _, _, x_test, y_test = digits_split()
    assert accuracy(m, x_test, y_test) == metrics["test_top1"]
