"""The integer-only BinaryViT (model/integer): agreement with the float model on the digits test
split, the op stream equal to the float trace, the reference executor equal to hw.ops' golden,
batch 1 equal to batched, save/load, the integer golden export and its refusal of a wrong
result, a broken fold caught, and the official fixture at 224 px."""

import copy
import json

import numpy as np
import pytest
import torch

from hw.ops import load_op
from hw.opfile import read_manifest
from model.checkpoint import load_checkpoint
from model.data import digits_split
from model.export import ExportError, trace_model
from model.integer import (IntegerBinaryViT, IntegerModelError, drive, fold_model,
                           network_steps, quantize_images, run_reference)
from model.integer import run as run_mod
from model.integer.calibrate import digits_calibration_images
from model.integer.compare import compare_with_float
from model.integer.export import export_integer_golden


@pytest.fixture(scope="module")
def digits():
    model = load_checkpoint("model/checkpoints/digits")
    int_model = fold_model(model, digits_calibration_images())
    _, _, x, y = digits_split()
    return model, int_model, x, y


def test_digits_input_is_the_raw_pixels(digits):
    _, im, x, _ = digits
    q = quantize_images(im, x)
    assert q.min() == 0 and q.max() == 16
    assert np.array_equal(q, np.round((x.numpy().astype(np.float64) + 1) * 8))


def test_digits_agreement_targets(digits):
    """The issue's targets on all 360 test images: top-1 agreement >= 99.5 %, accuracy within
    0.5 points of the float model."""
    model, im, x, y = digits
    r = compare_with_float(model, im, x, y)
    assert r["images"] == 360
    assert r["agreement"] >= 0.995, r["agreement"]
    assert abs(r["integer_top1"] - r["float_top1"]) <= 0.005
    assert r["mask_rule"]["rate"] < 1e-4
    assert r["saturated"]["values"] == 0


def test_constant_widths_fit_the_documented_ones(digits):
    w = digits[1].meta["widths"]
    assert w["mult"] <= 24 and w["bias"] <= 48 and w["move"] <= 32


def test_ops_equal_the_float_trace(digits):
    model, im, x, _ = digits
    for images in (x[:3], x[3:4]):
        _, records = trace_model(model, images)
        ops = []
        drive(network_steps(im, quantize_images(im, images)), on_op=lambda op, r: ops.append(op))
        assert len(ops) == len(records)
        for op, rec in zip(ops, records):
            f = rec.op
            assert (op.name, op.kind, op.mode) == (f.name, f.kind, f.mode)
            assert op.shape == {**f.shape, **({"bits": 16} if "bits" in f.shape else {})}


def test_reference_equals_hw_golden_driver(digits):
    _, im, x, _ = digits
    q = quantize_images(im, x[:4])
    ref = run_reference(im, q)
    gold = drive(network_steps(im, q), executor=lambda op: op.golden())
    assert np.array_equal(ref.logits, gold.logits)
    assert list(ref.tensors) == list(gold.tensors)
    for name in ref.tensors:
        assert np.array_equal(ref.tensors[name], gold.tensors[name]), name
    assert ref.logits.dtype == np.int64 and ref.predictions.shape == (4,)


def test_batch_of_one_equals_batched(digits):
    _, im, x, _ = digits
    q = quantize_images(im, x[:3])
    batched = run_reference(im, q)
    for i in range(3):
        one = run_reference(im, q[i:i + 1])
        assert np.array_equal(one.logits[0], batched.logits[i])
        for name in ("stem.out", "stages.0.blocks.0.attn.mask", "stages.1.merge.out",
                     "stages.1.blocks.0.out"):
            assert np.array_equal(one.tensors[name][0], batched.tensors[name][i]), name


def test_steps_refuse_a_wrong_result(digits):
    _, im, x, _ = digits
    steps = network_steps(im, quantize_images(im, x[:1]))
    op = next(steps)
    with pytest.raises(ValueError, match="shape"):
        steps.send(np.zeros((op.m + 1, op.n), dtype=np.int64))


def test_save_load_round_trip(digits, tmp_path):
    _, im, x, _ = digits
    im.save(tmp_path / "im")
    index = json.loads((tmp_path / "im" / "index.json").read_text())
    assert index["kind"] == "bvit-integer-model" and len(index["layers"]) == len(im.layers)
    back = IntegerBinaryViT.load(tmp_path / "im")
    q = quantize_images(back, x[:2])
    assert np.array_equal(run_reference(back, q).logits, run_reference(im, q).logits)
    im.save(tmp_path / "im")                        # replaces its own folder
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        im.save(tmp_path / "foreign")
    with pytest.raises(IntegerModelError):
        IntegerBinaryViT.load(tmp_path / "foreign")


def test_export_integer_files_verify_and_match_float_names(digits, tmp_path):
    model, im, x, y = digits
    q = quantize_images(im, x[:2])
    manifest = export_integer_golden(im, q, tmp_path / "g", labels=y[:2], progress=False)
    _, records = trace_model(model, x[:2])
    entries = read_manifest(tmp_path / "g")
    assert [e["name"] for e in entries] == [r.op.name for r in records]
    ops = [load_op(e["path"]) for e in entries]             # verify=True: result == golden
    ref_ops = []
    run = drive(network_steps(im, q), on_op=lambda op, r: ref_ops.append((op, r)))
    for op, (ref, result) in zip(ops, ref_ops):
        assert np.array_equal(op.result, result), op.name
        if op.kind.value == "matmul":
            assert np.array_equal(op.a_bits, ref.a_bits) and np.array_equal(op.w_bits, ref.w_bits)
        else:
            assert np.array_equal(op.x, ref.x) and op.bits == 16
    assert manifest["predictions"] == run.predictions.tolist()
    assert np.array_equal(IntegerBinaryViT.load(tmp_path / "g" / "params").layers["head"]["weight"],
                          im.layers["head"]["weight"])


def test_export_integer_refuses_a_wrong_result(digits, tmp_path, monkeypatch):
    _, im, x, _ = digits
    real = run_mod.execute
    monkeypatch.setattr(run_mod, "execute", lambda op: real(op) + (op.name == "gap"))
    with pytest.raises(ExportError, match="gap"):
        export_integer_golden(im, quantize_images(im, x[:1]), tmp_path / "g", progress=False)
    assert not (tmp_path / "g").exists()
    assert not list(tmp_path.iterdir())                     # no temporary left either


def _with(im, layer, key, change):
    bad = copy.deepcopy(im)
    bad.layers[layer][key] = change(bad.layers[layer][key])
    return bad


@pytest.mark.parametrize("layer, key", [("stages.0.blocks.0", "norm1.shift"),
                                        ("stages.1.merge", "act.shift")])
def test_a_broken_fold_lowers_agreement(digits, layer, key):
    """One shift off by one (a factor of 2 in one affine or RPReLU) is caught: agreement with
    the float model drops far below the target (measured: 89.7 % and 32.2 %)."""
    model, im, x, y = digits
    bad = _with(im, layer, key, lambda v: v + 1)
    r = compare_with_float(model, bad, x, y)
    assert r["agreement"] < 0.975, (layer, key, r["agreement"])     # the fold: >= 0.995


def test_a_broken_clip_is_caught(digits):
    """The mask's clip shift off by one (clip halved) fails the agreement target and the mask
    rule's disagreement with the float mask jumps (measured: 98.6 %; rule 0.0016 % -> > 1 %)."""
    model, im, x, y = digits
    bad = _with(im, "stages.0.blocks.0", "attn.clip_shift", lambda v: v + 1)
    r = compare_with_float(model, bad, x, y)
    assert r["agreement"] < 0.995
    assert r["mask_rule"]["rate"] > 0.01


def test_official_fixture_at_224(reference_dir):
    """The official random-weight fixture runs through the integer model at 224 px with the
    float trace's op stream; agreement is not required (random weights), the figures are
    reported by `python -m model integer --official`."""
    import model as pkg

    d = reference_dir / "official_small"
    m = pkg.load_official(d / "config.json", d / "state_dict.pt")
    images = torch.from_numpy(np.load(d / "images.npy"))
    im = fold_model(m, images)
    assert im.input.zero == 0 and (im.input.lo, im.input.hi) == (-128, 127)
    r = compare_with_float(m, im, images)          # raises if the op streams differ
    assert r["images"] == 1 and np.isfinite(r["logit_max_abs_error"])
    assert r["mask_rule"]["rate"] < 1e-3
    assert im.meta["widths"]["mult"] <= 24


def test_cli_integer_and_export_integer(tmp_path, capsys):
    from model.__main__ import main

    assert main(["integer", "--images", "20", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "top-1 agreement integer vs float:" in out and "stages.1.blocks.0.fc2" in out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["kind"] == "bvit-integer-agreement" and saved["digits"]["images"] == 20
    assert main(["integer", "--official", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --official")
    assert main(["export", "--integer", "--images", "1", "--out", str(tmp_path / "g")]) == 0
    assert (tmp_path / "g" / "params" / "index.json").is_file()
    assert len(read_manifest(tmp_path / "g")) == 33        # one image: 33 ops
    assert main(["export", "--integer", "--pool-bits", "12", "--out", str(tmp_path / "h")]) == 2


def test_fold_refuses_an_unsupported_family_member():
    import dataclasses

    from model.config import BinaryViTConfig
    from model.integer.fold import SUPPORTED_FAMILY, check_supported

    cfg = BinaryViTConfig()
    check_supported(cfg)
    if "fp_merge" in BinaryViTConfig.__dataclass_fields__:
        with pytest.raises(ValueError, match="fp_merge"):
            check_supported(dataclasses.replace(cfg, fp_merge=True))
    assert SUPPORTED_FAMILY["block"] == "binaryvit"
