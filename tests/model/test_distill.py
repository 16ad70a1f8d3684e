"""Distillation losses (the official BinaryViT soft-target loss, Bi-ViT's hard distillation and
our ranking-aware attention loss): hand-computed values, a few optimisation steps that must lower
them, training with a teacher, the command line, and the export of a Bi-ViT model."""

import math
from dataclasses import replace

import pytest
import torch

from model import BinaryViT, BinaryViTConfig
from model.distill import (attention_ranking_loss, capturing_attention, distribution_loss,
                           hard_distillation_loss, ranking_loss)
from model.train import Distillation, TrainSettings, train
from model.variants import get_variant

MICRO = BinaryViTConfig(image_size=8, patch_size=1, in_channels=1, num_classes=10, dims=(8, 16),
                        depths=(1, 1), heads=(1, 1), sr_ratios=(2, 1), ffn_sizes=(16, 32))
MICRO_DEIT = replace(get_variant("fp-teacher").tiny, dims=(12,), heads=(3,), ffn_sizes=(24,),
                     depths=(1,))
MICRO_BIVIT = replace(MICRO_DEIT, block="bivit")


def test_distribution_loss_hand_computed():
    # teacher softmax (1/2, 1/2); student log-softmax (log 1/4, log 3/4)
    loss = distribution_loss(torch.tensor([[0.0, math.log(3)]]), torch.tensor([[5.0, 5.0]]))
    assert loss.item() == pytest.approx(-0.5 * (math.log(0.25) + math.log(0.75)), abs=1e-6)


def test_hard_distillation_hand_computed():
    s, t, y = torch.tensor([[0.0, math.log(3)]]), torch.tensor([[2.0, 1.0]]), torch.tensor([1])
    # labels say class 1 (p = 3/4), the teacher's argmax class 0 (p = 1/4)
    want = -0.5 * math.log(0.75) - 0.5 * math.log(0.25)
    assert hard_distillation_loss(s, t, y).item() == pytest.approx(want, abs=1e-6)


def test_ranking_loss_hand_computed():
    """teacher [3, 1, 2], top-2 = keys 0 and 2; pairs (0,1), (0,2), (2,1); student [0, 1, 0.5],
    margin 0.5: costs 0.5+1 = 1.5, 0.5+0.5 = 1.0, 0.5+0.5 = 1.0 -> mean 3.5 / 3."""
    t = torch.tensor([3.0, 1.0, 2.0]).view(1, 1, 1, 3)
    s = torch.tensor([0.0, 1.0, 0.5]).view(1, 1, 1, 3)
    assert ranking_loss(s, t, 0.5, topk=2).item() == pytest.approx(3.5 / 3)
    # a student that ranks like the teacher with one step between keys costs nothing
    assert ranking_loss(torch.tensor([1.0, 0.0, 0.5]).view(1, 1, 1, 3), t, 0.5, 2).item() == 0
    # ties in the teacher make no pair
    assert ranking_loss(s, torch.zeros(1, 1, 1, 3), 0.5, 3).item() == 0


def _steps(loss_fn, params, n=15, lr=1e-2):
    opt = torch.optim.Adam(params, lr=lr)
    first = None
    for _ in range(n):
        loss = loss_fn()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    return first, loss_fn().item()


def test_kd_steps_lower_the_distribution_loss():
    torch.manual_seed(0)
    x = torch.randn(16, 1, 8, 8)
    target = torch.randn(16, 10) * 3           # a confident teacher's logits
    student = BinaryViT(MICRO).train()
    entropy = distribution_loss(target, target).item()      # the loss's floor
    first, last = _steps(lambda: distribution_loss(student(x), target), student.parameters())
    assert last - entropy < 0.8 * (first - entropy), (first, last, entropy)


def test_ranking_steps_lower_the_ranking_loss():
    torch.manual_seed(0)
    x = torch.randn(16, 1, 8, 8)
    teacher = BinaryViT(MICRO_DEIT).eval()
    student = BinaryViT(MICRO_BIVIT).train()
    with torch.no_grad(), capturing_attention() as t_caps:
        teacher(x)

    def loss():
        with capturing_attention() as s_caps:
            student(x)
        assert len(s_caps) == 1 and s_caps[0][1].shape == (16, 3, 17, 17)
        return attention_ranking_loss(s_caps, t_caps, topk=4)

    first, last = _steps(loss, student.parameters(), n=20, lr=3e-2)
    assert last < first * 0.9, (first, last)


def test_training_with_a_teacher(tmp_path):
    settings = TrainSettings(epochs=1, batch_size=256, seed=5)
    train(tmp_path / "t", MICRO_DEIT, settings, progress=False, variant="fp-teacher")
    m = train(tmp_path / "s", MICRO_BIVIT, settings, progress=False, variant="bivit-deit-t",
              distill=Distillation(str(tmp_path / "t"), kind="bivit"))
    assert m["variant"] == "bivit-deit-t" and m["distillation"]["kind"] == "bivit"
    assert 0 <= m["distillation"]["teacher_test_top1"] <= 1
    # a pyramid teacher has no DeiT attention to rank against: refused before training
    train(tmp_path / "p", MICRO, settings, progress=False)
    with pytest.raises(ValueError, match="cannot teach ranking-aware distillation"):
        train(tmp_path / "x", MICRO_BIVIT, settings, progress=False,
              distill=Distillation(str(tmp_path / "p"), kind="bivit"))
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv, message", [
    (["--variant", "reactdeit-s", "--config", "c.json"], "give --variant or --config"),
    (["--variant", "reactdeit-q"], "unknown variant 'reactdeit-q'"),
    (["--variant", "reactdeit-s", "--teacher", "nowhere"], "train the teacher first"),
    (["--teacher", "nowhere"], "--teacher needs --variant"),
])
def test_train_command_refuses_bad_variant_flags(argv, message, tmp_path, capsys):
    from model.__main__ import main

    assert main(["train", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bivit_exports_its_binary_ops(tmp_path):
    """Every op of a (random) tiny Bi-ViT exports with integers equal to the float model's
    products; the full-precision teacher has none and is refused."""
    from hw.opfile import read_manifest
    from model.export import export_golden

    torch.manual_seed(0)
    m = BinaryViT(MICRO_BIVIT)
    m.train()(torch.randn(4, 1, 8, 8))
    export_golden(m.eval(), torch.randn(1, 1, 8, 8), tmp_path / "g", progress=False)
    names = [op["name"] for op in read_manifest(tmp_path / "g")]
    pre = "stages.0.blocks.0."
    assert names == [pre + "attn.qkv", *(f"{pre}attn.b0.h{h}.{k}" for h in range(3)
                                         for k in ("scores", "context")),
                     pre + "attn.proj", pre + "fc1", pre + "fc2"]
    with pytest.raises(ValueError, match="full precision"):
        export_golden(BinaryViT(MICRO_DEIT).eval(), torch.randn(1, 1, 8, 8), tmp_path / "h",
                      progress=False)
