"""The model family in the cost model (hw/cost/network.py: every variant traces at both scales,
its non-array work counted by hand here) and the co-design table (hw/cost/compare.py,
``python -m hw compare``): numbers from their sources, the folder written whole, bad input."""

from __future__ import annotations

import json

import pytest
import torch

from hw.config import ArrayConfig
from hw.cost.compare import (CITED_TOP1, COMPARE_KIND, build_compare, checkpoint_top1)
from hw.cost.network import (NETWORKS, VARIANT_NAMES, NetworkError, load_network,
                             network_config, network_cost)
from hw.outfiles import OutputError
from hw.paths import CHECKPOINTS_DIR
from model import BinaryViT
from model.variants import VARIANTS

SMALL = ArrayConfig(rows=4, cols=4, simd=32)


def _work(net) -> dict:
    return {w.category: w.count for w in net.elementwise}


def test_variant_names_are_the_model_family():
    assert VARIANT_NAMES == tuple(VARIANTS)
    for v in VARIANT_NAMES:
        assert v in NETWORKS and v + "-digits" in NETWORKS
    assert set(CITED_TOP1) == set(VARIANT_NAMES)


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_both_scales_trace_the_variant_configs(variant):
    cfg, source = network_config(variant + "-digits")
    assert cfg == VARIANTS[variant].tiny and source.endswith(f"{variant}/config.json")
    official, source = network_config(variant)
    assert official == VARIANTS[variant].official and source
    net = load_network(variant + "-digits")
    assert net.parameters == sum(p.numel() for p in BinaryViT(cfg).parameters())
    assert bool(net.ops) == cfg.binary


def test_somefp_merge_conv_is_fp_macs_not_stem():
    net = load_network("binaryvit-s-somefp-digits")
    c = net.config
    merge = sum(c.stage_tokens[s] * c.dims[s] * c.dims[s - 1] * 4 for s in range(1, c.num_stages))
    stem = c.stage_tokens[0] * c.dims[0] * c.in_channels * c.patch_size ** 2
    w = _work(net)
    assert w["FP patch-merge conv (--some-fp)"] == merge
    assert w["FP stem conv"] == stem
    assert net.macs("merge") == 0 and net.work("FP MACs") == merge + stem + w["FP head linear"]


def test_bivit_layernorms_alpha_and_class_token_by_hand():
    net = load_network("bivit-deit-t-digits")
    c = net.config
    t, d = c.stage_tokens[0] + 1, c.dims[0]          # + the class token
    w = _work(net)
    # per block: norm1, norm2 over T x d; q_norm, k_norm over T x d (per head: T x d/h, h heads)
    assert w["LayerNorm (mean, variance, normalise, affine)"] == c.depths[0] * 4 * t * d + t * d
    assert w["alpha scale of weight-layer results (no BatchNorm to fold it into)"] == \
        c.depths[0] * t * (3 * d + d + c.ffn_sizes[0] + d)
    assert w["class token (prepend; the head reads token 0)"] == d
    assert w["norm affine (BatchNorm, folded with alpha)"] == 0 and not net.pools
    assert all(op.m == t for op in net.matmuls if op.group != "attention")


def test_fp_teacher_counts_fp_work_and_has_no_array_cost():
    net = load_network("fp-teacher-digits")
    c = net.config
    t, d, f, h = c.stage_tokens[0] + 1, c.dims[0], c.ffn_sizes[0], c.heads[0]
    w = _work(net)
    assert not net.ops
    assert w["FP linears (qkv, proj, FC1, FC2)"] == c.depths[0] * t * d * (3 * d + d + 2 * f)
    assert w["FP attention products (Q.K^T, A.V)"] == c.depths[0] * 2 * h * t * t * (d // h)
    assert w["softmax (exp, sum, divide)"] == c.depths[0] * h * t * t
    assert w["GELU"] == c.depths[0] * t * f
    with pytest.raises(NetworkError, match="no binary matmul or pool"):
        network_cost(net, SMALL)


def test_checkpoint_top1_reads_metrics():
    top1, src = checkpoint_top1("reactdeit-s")
    doc = json.loads((CHECKPOINTS_DIR / "reactdeit-s" / "metrics.json").read_text())
    assert top1 == 100 * doc["test_top1"] and "metrics.json" in src


def test_compare_writes_the_table_with_sources(tmp_path):
    out = tmp_path / "variants"
    doc = build_compare(SMALL, "ecp5-85", out_dir=out, variants=("reactdeit-s", "fp-teacher"),
                        scales=("digits",), dse_max_side=3, command="test")
    files = {p.name for p in out.iterdir()}
    assert {"compare.json", "compare.md", "compare.csv", "accuracy_vs_fps.png",
            "accuracy_vs_lut.png"} <= files
    back = json.loads((out / "compare.json").read_text())
    assert back["kind"] == COMPARE_KIND and back["sources"]
    react, teacher = back["rows"]
    want = network_cost(load_network("reactdeit-s-digits"), SMALL)["totals"]
    assert react["cycles"] == want["cycles"] and react["frames_per_s"] == want["frames_per_s"]
    assert react["top1_digits"] == checkpoint_top1("reactdeit-s")[0]
    assert react["top1_imagenet_cited"] is None and "not found" in react["top1_imagenet_source"]
    assert react["dse_best"]["rows"] <= 3 and react["dse_best"]["cols"] <= 3
    assert teacher["cycles"] is None and teacher["fp_macs"] > 0 and teacher["dse_best"] is None
    md = (out / "compare.md").read_text()
    assert "| reactdeit-s | 89.44 % |" in md and "not found" in md
    # a second run replaces it and keeps a file of yours
    (out / "mine.txt").write_text("keep")
    build_compare(SMALL, "ecp5-85", out_dir=out, variants=("reactdeit-s",),
                  scales=("digits",), dse=False)
    assert (out / "mine.txt").read_text() == "keep" and (out / "compare.json").is_file()
    assert not (out / "accuracy_vs_lut.png").exists()


def test_compare_refuses_a_foreign_folder_and_bad_names(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "data.txt").write_text("not ours")
    with pytest.raises(OutputError, match="holds no compare.json"):
        build_compare(SMALL, "ecp5-85", out_dir=tmp_path / "x", variants=("reactdeit-s",),
                      scales=("digits",), dse=False)
    assert (tmp_path / "x" / "data.txt").read_text() == "not ours"
    with pytest.raises(NetworkError, match="--variants nope: unknown variant; valid variants: "
                                           "binaryvit-s"):
        build_compare(SMALL, "ecp5-85", out_dir=tmp_path / "y", variants=("nope",))
    assert not (tmp_path / "y").exists()


@pytest.mark.parametrize("args, words", [
    (["--variants", "nope"], "--variants nope: unknown variant"),
    (["--scales", "cifar"], "--scales cifar: unknown scale"),
    (["--dse-max", "0"], "--dse-max 0"),
])
def test_compare_cli_bad_input_is_one_line(args, words, capsys, tmp_path):
    from hw.__main__ import main

    assert main(["compare", "--device", "ecp5-85", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, expected", [
    # the committed report's command: every option at its default is left out
    (["--device", "ecp5-85", "--rows", "8", "--cols", "8", "--simd", "64"],
     "python -m hw compare --device ecp5-85 --rows 8 --cols 8 --simd 64"),
    (["--device", "ecp5-85", "--variants", "binaryvit-s", "--no-dse", "--dse-max", "9",
      "--batch", "4", "--out", "my dir"],
     "python -m hw compare --device ecp5-85 --rows 4 --cols 4 --simd 32 --variants binaryvit-s "
     "--no-dse --dse-max 9 --batch 4 --out 'my dir'"),
])
def test_compare_command_line(argv, expected):
    """The "Generated by" command of compare.json / compare.md (hw/cli/common.command_line)."""
    from hw.__main__ import build_parser
    from hw.cli.compare import compare_command

    assert compare_command(build_parser().parse_args(["compare", *argv])) == expected


def test_committed_compare_command_is_reproduced():
    from hw.paths import VARIANTS_REPORT_DIR

    doc = json.loads((VARIANTS_REPORT_DIR / "compare.json").read_text())
    assert doc["command"] == "python -m hw compare --device ecp5-85 --rows 8 --cols 8 --simd 64"
