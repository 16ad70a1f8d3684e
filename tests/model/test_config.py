"""Config validation and (de)serialisation."""

import json

import pytest

from model.config import BinaryViTConfig, ConfigError, tiny_digits_config


def test_defaults_are_binaryvit_s():
    cfg = BinaryViTConfig()
    assert cfg.stage_grids == (56, 28, 14, 7)
    assert cfg.head_dims == (64, 64, 64, 64)
    assert cfg.num_blocks == 19


@pytest.mark.parametrize("change, message", [
    (dict(depths=(1, 1, 1)), "depths has 3 entries"),
    (dict(image_size=226), "not a multiple of patch_size"),
    (dict(image_size=200), "halve 3 times"),
    (dict(heads=(3, 2, 4, 8)), "not a multiple of heads"),
    (dict(ffn_sizes=(100, 1024, 1024, 2048)), "multiple of dim"),
    (dict(sr_ratios=(5, 4, 1, 1)), "does not divide"),
    (dict(dims=(64, 96, 256, 512), heads=(1, 1, 4, 8), ffn_sizes=(512, 960, 1024, 2048)),
     "multiple of the previous"),
    (dict(num_classes=0), "num_classes must be >= 1"),
])
def test_bad_configs_are_rejected_with_a_reason(change, message):
    with pytest.raises(ConfigError, match=message):
        BinaryViTConfig(**change)


def test_round_trip_json(tmp_path):
    cfg = tiny_digits_config()
    cfg.save(tmp_path / "c.json")
    assert BinaryViTConfig.load(tmp_path / "c.json") == cfg


def test_unknown_field_is_rejected(tmp_path):
    d = tiny_digits_config().to_dict() | {"dimz": [1]}
    (tmp_path / "c.json").write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="unknown config fields"):
        BinaryViTConfig.load(tmp_path / "c.json")


def test_official_json_unsupported_variants_are_rejected(reference_dir, tmp_path):
    d = json.loads((reference_dir / "binaryvit_official_config.json").read_text())
    for key, value, message in (("weight_bits", 2, "weight_bits"),
                                ("avg_res5", False, "avg_res3/avg_res5")):
        (tmp_path / "c.json").write_text(json.dumps(d | {key: value}))
        with pytest.raises(ConfigError, match=message):
            BinaryViTConfig.load(tmp_path / "c.json")
    (tmp_path / "c.json").write_text(json.dumps(d | {"disable_layerscale": True}))
    assert BinaryViTConfig.load(tmp_path / "c.json").layerscale is False
    (tmp_path / "c.json").write_text(json.dumps(d | {"some_fp": True}))     # --some-fp
    assert BinaryViTConfig.load(tmp_path / "c.json").fp_merge is True
