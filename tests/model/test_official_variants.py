"""The official code's other variants (ReActDeiT-S, its pooling/LayerScale step, BinaryViT-S with
full-precision merges): full-depth key lists and strict loading, and logits equal to the official
implementation's on the reduced-depth fixtures of shared/reference."""

import ast

import numpy as np
import pytest
import torch

import model
from model.official import OfficialCheckpointError, to_official_state_dict

# variant: (parameter count in the reference README, expected config switches)
FULL = {
    "reactdeit_s": (22_294_900, dict(cls_token=True, pool_branches=False, layerscale=False,
                                     stem_norm=False, fp_merge=False)),
    "reactdeit_s_avgpool_mb_ls": (22_349_428, dict(cls_token=False, pool_branches=True,
                                                   layerscale=True, stem_norm=False)),
    "binaryvit_s_somefp": (22_488_635, dict(fp_merge=True, stem_norm=True, cls_token=False)),
}


def _keys(path):
    out = {}
    for line in path.read_text().splitlines():
        key, shape, dtype = line.split("\t")
        out[key] = (ast.literal_eval(shape), dtype)
    return out


@pytest.mark.parametrize("variant", sorted(FULL))
def test_full_depth_key_list_loads_strictly(reference_dir, variant, tmp_path):
    """Built from the effective config, the model has exactly the official keys and shapes, and
    a state dict with those keys loads strictly."""
    params, switches = FULL[variant]
    cfg = model.BinaryViTConfig.load(reference_dir / f"{variant}_config.json")
    assert all(getattr(cfg, k) == v for k, v in switches.items()), cfg
    ours = to_official_state_dict(model.BinaryViT(cfg))
    ref = _keys(reference_dir / f"{variant}_state_dict_keys.txt")
    assert set(ours) == set(ref)
    for key, (shape, dtype) in ref.items():
        assert list(ours[key].shape) == shape, key
        assert str(ours[key].dtype).removeprefix("torch.") == dtype, key
    assert sum(v.numel() for k, v in ours.items() if not k.endswith(
        ("running_mean", "running_var", "num_batches_tracked"))) == params
    torch.save(ours, tmp_path / "sd.pt")
    model.load_official(reference_dir / f"{variant}_config.json", tmp_path / "sd.pt")


@pytest.fixture(scope="module", params=sorted(FULL))
def fixture(request, reference_dir):
    d = reference_dir / f"official_{request.param}_small"
    return d, model.load_official(d / "config.json", d / "state_dict.pt")


def test_logits_equal_official_fp64(fixture):
    d, m = fixture
    with torch.no_grad():
        logits = m.double()(torch.from_numpy(np.load(d / "images.npy")).double()).numpy()
    err = np.abs(logits - np.load(d / "logits_fp64.npy")).max()
    m.float()
    assert err < 1e-9, err


def test_logits_equal_official_fp32(fixture):
    d, m = fixture
    with torch.no_grad():
        logits = m.float()(torch.from_numpy(np.load(d / "images.npy"))).numpy()
    err = np.abs(logits - np.load(d / "logits.npy")).max()
    assert err < 1e-4, err


def test_variant_mismatch_is_one_error_listing_the_keys(reference_dir, tmp_path):
    """A ReActDeiT-S state dict under the avgpool-mb-ls config: the class token is unexpected,
    the pooling-branch and LayerScale keys are missing, the position embedding has one token too
    many; all in one error."""
    d = reference_dir / "official_reactdeit_s_small"
    other = reference_dir / "official_reactdeit_s_avgpool_mb_ls_small" / "config.json"
    with pytest.raises(OfficialCheckpointError) as info:
        model.load_official(other, d / "state_dict.pt")
    msg = str(info.value)
    assert "unexpected keys (1)" in msg and "vit.embeddings.cls_token" in msg
    assert "missing keys" in msg and "layerscale_h3" in msg
    assert "vit.embeddings.position_embeddings: checkpoint [1, 197, 384], model [1, 196, 384]" in msg
