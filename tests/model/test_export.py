"""Golden export: files round-trip to the same integers recomputed independently with numpy,
pooling error is within half an LSB, outputs are byte-for-byte deterministic, no partial output."""

import json

import numpy as np
import pytest
import torch

from hw.ops import load_op
from hw.opfile import read_manifest
from hw.outfiles import OutputError
from model import BinaryViT, BinaryViTConfig
from model.export import ExportError, export_golden

CFG = BinaryViTConfig(image_size=8, patch_size=1, in_channels=1, num_classes=10, dims=(16, 32),
                      depths=(1, 1), heads=(1, 2), sr_ratios=(2, 1), ffn_sizes=(32, 64))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(3)
    model = BinaryViT(CFG).eval()
    images = torch.randn(2, 1, 8, 8)
    out = tmp_path_factory.mktemp("golden") / "g"
    manifest = export_golden(model, images, out, pool_bits=12, progress=False)
    return model, images, out, manifest


def test_manifest_lists_every_op_in_execution_order(exported):
    _, _, out, manifest = exported
    names = [op["name"] for op in manifest["ops"]]
    assert names[0] == "stages.0.blocks.0.attn.q"
    assert names[1] == "stages.0.blocks.0.attn.sr_pool"
    assert names[-1] == "gap"
    for required in ("attn.sr", "attn.k", "attn.v", "attn.b1.h0.scores", "attn.b1.h0.context",
                     "attn_proj", "fc1", "fc2", "fc2_shortcut_pool", "pool_h3", "pool_w3",
                     "pool_h5", "pool_w5"):
        assert f"stages.0.blocks.0.{required}" in names, required
    assert "stages.1.merge.conv" in names and "stages.1.merge.shortcut_pool" in names
    assert "stages.1.blocks.0.attn.b0.h1.context" in names           # two heads in stage 1
    assert len(read_manifest(out)) == len(names)
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_matmul_files_round_trip_to_numpy_recomputation(exported):
    _, _, out, manifest = exported
    for op in manifest["ops"]:
        if op["kind"] != "matmul":
            continue
        with np.load(out / op["file"]) as z:
            k = int(z["k"])
            a = np.unpackbits(z["a_bits"], axis=1, bitorder="little")[:, :k].astype(np.int64)
            w = np.unpackbits(z["w_bits"], axis=1, bitorder="little")[:, :k].astype(np.int64)
            lhs = 2 * a - 1 if str(z["mode"]) == "xnor" else a
            assert np.array_equal(lhs @ (2 * w - 1).T, z["result"]), op["name"]
            assert (int(z["m"]), int(z["n"])) == z["result"].shape


def test_pool_files_round_trip_and_error_is_half_an_lsb(exported):
    _, _, out, manifest = exported
    for op in manifest["ops"]:
        if op["kind"] != "pool":
            continue
        job = load_op(out / op["file"])
        x = torch.from_numpy(job.x).double()[:, None]
        sums = torch.nn.functional.avg_pool2d(x, job.kernel, job.stride, job.padding,
                                              count_include_pad=True) * job.window
        assert np.array_equal(np.round(sums[:, 0].numpy()).astype(np.int64), job.result)
        assert np.abs(job.x).max() <= 2 ** 11 - 1                    # 12-bit two's complement
        err = op["fixed_point_error"]
        assert err["max_abs_error"] <= err["lsb"] / 2 * (1 + 1e-9), op["name"]


def test_export_is_byte_for_byte_deterministic(exported, tmp_path):
    model, images, out, _ = exported
    export_golden(model, images, tmp_path / "again", pool_bits=12, progress=False)
    first = sorted(p.name for p in out.iterdir())
    assert first == sorted(p.name for p in (tmp_path / "again").iterdir())
    for name in first:
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_export_never_leaves_partial_output(exported, tmp_path, monkeypatch):
    model, images, _, _ = exported
    import model.export as export_module

    def failing(op):
        raise ExportError("simulated failure")
    monkeypatch.setattr(export_module, "matmul_job", failing)
    with pytest.raises(ExportError):
        export_golden(model, images, tmp_path / "g", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_foreign_directory(exported, tmp_path):
    model, images, _, _ = exported
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not written by `python -m model export`"):
        export_golden(model, images, tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
