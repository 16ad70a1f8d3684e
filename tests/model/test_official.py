"""Official-checkpoint compatibility: key list, strict loading and its errors, and equality with
the official implementation's logits and integer tensors (shared/reference/official_small)."""

import ast

import numpy as np
import pytest
import torch

import model
from model.official import OfficialCheckpointError, official_key, to_official_state_dict


@pytest.fixture(scope="module")
def small(reference_dir):
    d = reference_dir / "official_small"
    return d, model.load_official(d / "config.json", d / "state_dict.pt")


def reference_keys(reference_dir):
    out = {}
    for line in (reference_dir / "binaryvit_official_state_dict_keys.txt").read_text().splitlines():
        key, shape, dtype = line.split("\t")
        out[key] = (ast.literal_eval(shape), dtype)
    return out


def test_binaryvit_s_state_dict_matches_reference_key_list(reference_dir):
    cfg = model.BinaryViTConfig.load(reference_dir / "binaryvit_official_config.json")
    assert (cfg.dims, cfg.depths, cfg.heads, cfg.sr_ratios, cfg.ffn_sizes) == (
        (64, 128, 256, 512), (3, 4, 8, 4), (1, 2, 4, 8), (8, 4, 1, 1), (512, 1024, 1024, 2048))
    ours = to_official_state_dict(model.BinaryViT(cfg))
    ref = reference_keys(reference_dir)
    assert set(ours) == set(ref)
    for key, (shape, dtype) in ref.items():
        assert list(ours[key].shape) == shape, key
        assert str(ours[key].dtype).removeprefix("torch.") == dtype, key
    params = sum(v.numel() for k, v in ours.items() if not k.endswith(
        ("running_mean", "running_var", "num_batches_tracked")))
    assert params == 22_491_771     # the reference README's parameter count


def test_key_mapping_is_one_to_one():
    cfg = model.BinaryViTConfig(image_size=64, dims=(8, 16, 32, 64), ffn_sizes=(16, 32, 64, 128),
                                depths=(2, 1, 1, 1), sr_ratios=(2, 2, 1, 1))
    keys = model.BinaryViT(cfg).state_dict()
    assert len({official_key(k, cfg) for k in keys}) == len(keys)


def test_logits_equal_official_fp64(small):
    d, m = small
    x = torch.from_numpy(np.load(d / "images.npy")).double()
    with torch.no_grad():
        logits = m.double()(x).numpy()
    ref = np.load(d / "logits_fp64.npy")
    assert np.abs(logits - ref).max() < 1e-9
    m.float()


def test_logits_equal_official_fp32(small):
    d, m = small
    with torch.no_grad():
        logits = m.float()(torch.from_numpy(np.load(d / "images.npy"))).numpy()
    assert np.abs(logits - np.load(d / "logits.npy")).max() < 1e-4


def test_golden_integers_equal_official_intermediates(small, tmp_path):
    """The export's job files hold exactly the official code's integers for block 0 and the
    first patch merge (inputs' signs, weights' signs and the binary products)."""
    from hw.ops import load_op
    from hw.opfile import read_manifest
    from model.export import export_golden

    d, m = small
    export_golden(m, torch.from_numpy(np.load(d / "images.npy")), tmp_path / "g", progress=False)
    jobs = {op["name"]: op for op in read_manifest(tmp_path / "g")}
    z = np.load(d / "intermediates.npz")
    pre = "stages.0.blocks.0."
    pairs = {"attn.query": "attn.q", "attn.reduction": "attn.sr", "attn.key": "attn.k",
             "attn.value": "attn.v", "attn_output.dense": "attn_proj",
             "ffn_intermediate.dense": "fc1", "ffn_output.dense": "fc2"}
    for ref, ours in pairs.items():
        job = load_op(jobs[pre + ours]["path"])
        assert np.array_equal(job.result, z[f"{ref}.binary_matmul_int"][0]), ref
        assert np.array_equal(2 * job.a_bits.astype(int) - 1,
                              z[f"{ref}.input_sign"][0].reshape(job.m, job.k)), ref
        assert np.array_equal(2 * job.w_bits.astype(int) - 1, z[f"{ref}.weight_sign"]), ref
    merge = load_op(jobs["stages.1.merge.conv"]["path"])
    conv = z["patch_embed1.proj.binary_conv_int"][0]               # (128, 28, 28)
    assert np.array_equal(merge.result, conv.reshape(conv.shape[0], -1).T)
    scores = load_op(jobs[pre + "attn.b0.h0.scores"]["path"])
    assert np.array_equal(scores.result, z["attn.scores_int"][0, 0])
    context = load_op(jobs[pre + "attn.b0.h0.context"]["path"])
    assert np.array_equal(context.a_bits, z["attn.prob_mask"][0, 0])
    assert np.array_equal(context.result, z["attn.context_int"][0])


def test_round_trip_through_official_layout(tmp_path, reference_dir):
    cfg_path = reference_dir / "binaryvit_official_config.json"
    torch.manual_seed(1)
    src = model.BinaryViT(model.BinaryViTConfig.load(cfg_path))
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    model.save_official(src, tmp_path / "sd.pt")
    loaded = model.load_official(cfg_path, tmp_path / "sd.pt")
    assert not loaded.training
    a, b = src.state_dict(), loaded.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a training checkpoint dict (state dict under "model") loads too
    torch.save({"model": to_official_state_dict(src), "epoch": 3}, tmp_path / "ckpt.pth")
    model.load_official(cfg_path, tmp_path / "ckpt.pth")


@pytest.fixture(scope="module")
def official_sd(reference_dir):
    d = reference_dir / "official_small"
    return d / "config.json", torch.load(d / "state_dict.pt", weights_only=True)


def _load_broken(tmp_path, official_sd, edit):
    cfg, sd = official_sd
    sd = dict(sd)
    edit(sd)
    torch.save(sd, tmp_path / "broken.pt")
    with pytest.raises(OfficialCheckpointError) as info:
        model.load_official(cfg, tmp_path / "broken.pt")
    return str(info.value)


def test_missing_key_is_named(tmp_path, official_sd):
    msg = _load_broken(tmp_path, official_sd,
                       lambda sd: sd.pop("vit.encoder.layer.0.attention.attention.query.weight"))
    assert "missing keys (1)" in msg and "layer.0.attention.attention.query.weight" in msg


def test_unexpected_key_is_named(tmp_path, official_sd):
    msg = _load_broken(tmp_path, official_sd,
                       lambda sd: sd.update({"vit.extra.weight": torch.zeros(3)}))
    assert "unexpected keys (1)" in msg and "vit.extra.weight" in msg


def test_shape_mismatch_is_named(tmp_path, official_sd):
    key = "vit.encoder.layer.0.intermediate.dense.weight"
    msg = _load_broken(tmp_path, official_sd, lambda sd: sd.update({key: torch.zeros(8, 64)}))
    assert "shape mismatches (1)" in msg and key in msg and "[8, 64]" in msg


def test_all_problems_reported_at_once(tmp_path, official_sd):
    def edit(sd):
        sd.pop("classifier.bias")
        sd["junk"] = torch.zeros(1)
    msg = _load_broken(tmp_path, official_sd, edit)
    assert "classifier.bias" in msg and "junk" in msg


def test_bad_files(tmp_path, reference_dir):
    cfg = reference_dir / "official_small" / "config.json"
    with pytest.raises(OfficialCheckpointError, match="does not exist"):
        model.load_official(cfg, tmp_path / "nope.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(OfficialCheckpointError, match="cannot be read"):
        model.load_official(cfg, tmp_path / "garbage.pt")
    with pytest.raises(model.ConfigError, match="does not exist"):
        model.load_official(tmp_path / "nope.json", tmp_path / "garbage.pt")
