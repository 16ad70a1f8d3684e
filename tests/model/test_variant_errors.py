"""Bad input around the model family, each one line ``error: ...`` with exit 2 that names the
flag or file and the fix: an unknown --variant, a checkpoint whose weights are another
variant's, a Bi-ViT config whose heads do not divide the width."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model.__main__ import main
from model.checkpoint import CheckpointError, load_checkpoint
from model.config import BinaryViTConfig, ConfigError
from model.variants import get_variant

REPO = Path(__file__).resolve().parents[2]
CKPTS = REPO / "model" / "checkpoints"


def one_error_line(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_train_unknown_variant(capsys, tmp_path):
    line = one_error_line(capsys, "train", "--variant", "nope", "--out", str(tmp_path / "o"))
    assert "unknown variant 'nope'; valid variants: binaryvit-s, " in line
    assert not (tmp_path / "o").exists()


def mixed(tmp_path: Path, weights_of: str, config_of: str) -> Path:
    ck = tmp_path / "ck"
    ck.mkdir()
    shutil.copy(CKPTS / weights_of / "weights.pt", ck)
    shutil.copy(CKPTS / weights_of / "metrics.json", ck)
    shutil.copy(CKPTS / config_of / "config.json", ck)
    return ck


def test_weights_of_one_variant_with_the_config_of_another(tmp_path, capsys):
    ck = mixed(tmp_path, "reactdeit-s", "binaryvit-s")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(ck)
    msg = str(exc.value)
    assert str(ck / "weights.pt") in msg and "keys missing" in msg
    assert "trained as variant 'reactdeit-s'" in msg and "config.json" in msg
    for cmd in (["info", "--checkpoint", str(ck)],
                ["export", "--checkpoint", str(ck), "--out", str(tmp_path / "g")]):
        line = one_error_line(capsys, *cmd)
        assert "trained as variant 'reactdeit-s'" in line
    assert not (tmp_path / "g").exists()


def test_near_variant_names_the_trained_variant(tmp_path):
    """reactdeit-s and reactdeit-s-avgpool differ only by the class token: the message names
    the extra key, the position embedding of another shape and the variant trained."""
    ck = mixed(tmp_path, "reactdeit-s", "reactdeit-s-avgpool")
    with pytest.raises(CheckpointError, match=r"1 key unexpected \(first: stem.cls_token\), 1 "
                                              r"key of another shape \(first: stem.pos_embed\)"
                                              ".*trained as variant 'reactdeit-s'"):
        load_checkpoint(ck)


def test_bivit_heads_must_divide_the_width(tmp_path, capsys):
    d = get_variant("bivit-deit-t").tiny.to_dict() | {"heads": [5]}
    with pytest.raises(ConfigError, match="dim 48 is not a multiple of heads 5.*give heads "
                                          "that divide 48: 1, 2, 3, 4, 6, 8"):
        BinaryViTConfig.from_dict(d)
    path = tmp_path / "bivit.json"
    path.write_text(json.dumps(d))
    line = one_error_line(capsys, "train", "--config", str(path), "--out", str(tmp_path / "o"))
    assert str(path) in line and "give heads that divide 48" in line
