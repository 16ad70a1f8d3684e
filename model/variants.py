"""The model family: BinaryViT (Le & Li, CVPR 2023 W) with the baselines of its Table 3 and its
full-precision-merge ablation, all built by the official code
(github.com/Phuoc-Hoan-Le/BinaryViT, commit ca16a431, scripts/*.sh), Bi-ViT on DeiT-Tiny
(AAAI 2024) and the full-precision DeiT teacher. One BinaryViTConfig per variant, at the
official size and as a tiny model for scikit-learn's 8x8 digits.

Official flags -> config fields: `--model-type=extra-res` -> one stage, `stem_norm=False`
(that model has no BatchNorm after its stem); `--enable-cls-token` -> `cls_token`;
`--disable-layerscale` -> `layerscale=False`; `--avg-res3 --avg-res5` -> `pool_branches`;
`--some-fp` -> `fp_merge`. DeiT-S, the teacher of every official script
(`--teacher-model=configs/deit-small-patch16-224`), is ``block="deit"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .config import BinaryViTConfig, ConfigError, tiny_digits_config


@dataclass(frozen=True)
class Variant:
    name: str
    official: BinaryViTConfig      # ImageNet size (224 px, 1000 classes)
    tiny: BinaryViTConfig          # scikit-learn digits (8x8x1, 10 classes)
    kd: str                        # "none" (the teacher), "soft" (BinaryViT), "bivit"
    source: str                    # the official script or paper it follows


_DEIT_S = dict(image_size=224, patch_size=16, in_channels=3, num_classes=1000, dims=(384,),
               depths=(12,), heads=(6,), sr_ratios=(1,), ffn_sizes=(1536,), stem_norm=False)
_DEIT_T = dict(_DEIT_S, dims=(192,), heads=(3,), ffn_sizes=(768,))
# Tiny plain ViTs for 8x8 digits: patch 2 (a 4x4 grid of 16 patch tokens), two blocks, FFN
# four times the width as in DeiT.
_TINY_REACT = dict(image_size=8, patch_size=2, in_channels=1, num_classes=10, dims=(64,),
                   depths=(2,), heads=(2,), sr_ratios=(1,), ffn_sizes=(256,), stem_norm=False)
_TINY_DEIT = dict(_TINY_REACT, dims=(48,), heads=(3,), ffn_sizes=(192,))
_DEIT = dict(block="deit", cls_token=True, pool_branches=False, layerscale=False, norm_eps=1e-6)
_BIVIT = dict(_DEIT, block="bivit")


def _react(cls_token: bool, branches: bool, layerscale: bool) -> dict:
    return dict(cls_token=cls_token, pool_branches=branches, layerscale=layerscale)


_TABLE = [
    # name, official config, tiny config, kd, source
    ("binaryvit-s", BinaryViTConfig(), tiny_digits_config(), "soft",
     "scripts/run_binaryvit-small-patch4-224.sh"),
    ("binaryvit-s-somefp", BinaryViTConfig(fp_merge=True, name="binaryvit-s-somefp"),
     replace(tiny_digits_config(), fp_merge=True, name="digits-tiny-somefp"), "soft",
     "scripts/run_binaryvit-small-patch4-224-some-fp.sh"),
    ("reactdeit-s", _DEIT_S | _react(True, False, False), _TINY_REACT | _react(True, False, False),
     "soft", "scripts/run_reactdeit-small-patch16-224.sh"),
    ("reactdeit-s-avgpool", _DEIT_S | _react(False, False, False),
     _TINY_REACT | _react(False, False, False), "soft",
     "scripts/run_reactdeit-small-patch16-224-avg_pool.sh"),
    ("reactdeit-s-avgpool-mb", _DEIT_S | _react(False, True, False),
     _TINY_REACT | _react(False, True, False), "soft",
     "scripts/run_reactdeit-small-patch16-224-avg_pool-multi_branch.sh"),
    ("reactdeit-s-avgpool-mb-ls", _DEIT_S | _react(False, True, True),
     _TINY_REACT | _react(False, True, True), "soft",
     "scripts/run_reactdeit-small-patch16-224-avg_pool-multi_branch-ls.sh"),
    ("bivit-deit-t", _DEIT_T | _BIVIT, _TINY_DEIT | _BIVIT, "bivit",
     "Bi-ViT (Li et al., AAAI 2024, arXiv 2305.12354) on DeiT-Tiny"),
    ("fp-teacher", _DEIT_S | _DEIT, _TINY_DEIT | _DEIT, "none",
     "scripts/run_deit-small-patch16-224.sh (the teacher of every script; tiny: the shape of "
     "bivit-deit-t, so that its attention layers pair with Bi-ViT's)"),
]


def _config(value, name: str) -> BinaryViTConfig:
    if isinstance(value, BinaryViTConfig):
        return value
    return BinaryViTConfig(**value, name=name)


VARIANTS: dict[str, Variant] = {
    name: Variant(name, _config(official, name), _config(tiny, f"{name}-digits"), kd, source)
    for name, official, tiny, kd, source in _TABLE}
#: the variant whose tiny model trains the other variants' teacher
TEACHER = "fp-teacher"


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise ConfigError(f"unknown variant {name!r}; valid variants: {', '.join(VARIANTS)}")
    return VARIANTS[name]
