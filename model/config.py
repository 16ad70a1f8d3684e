"""BinaryViT configuration: one dataclass, validated, readable from our JSON and the official one."""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A configuration is inconsistent; the message says which field and how to fix it."""


def _as_int(key: str, value) -> int:
    """``value`` as an int (Python or numpy integer); ConfigError naming ``key`` otherwise."""
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ConfigError(f"{key} must be an integer, got {value!r}") from None


#: block kinds: the BinaryViT block (also ReActDeiT's), Bi-ViT's binary DeiT block, FP DeiT
BLOCKS = ("binaryvit", "bivit", "deit")
#: fields added for the model family; left out of to_dict() while at their default
FAMILY_FIELDS = ("cls_token", "stem_norm", "fp_merge", "block")


@dataclass(frozen=True)
class BinaryViTConfig:
    """Shape of a BinaryViT (Le & Li, CVPR'23 W): a pyramid of binary transformer stages.

    Defaults are BinaryViT-S at 224 px as the official scripts build it.
    """

    image_size: int = 224
    patch_size: int = 4
    in_channels: int = 3
    num_classes: int = 1000
    dims: tuple[int, ...] = (64, 128, 256, 512)
    depths: tuple[int, ...] = (3, 4, 8, 4)
    heads: tuple[int, ...] = (1, 2, 4, 8)
    sr_ratios: tuple[int, ...] = (8, 4, 1, 1)
    ffn_sizes: tuple[int, ...] = (512, 1024, 1024, 2048)
    pool_branches: bool = True   # the four AvgPool branches (official --avg-res3 --avg-res5)
    layerscale: bool = True      # LayerScale before the two block residual adds
    norm_eps: float = 1e-5
    name: str = field(default="binaryvit-s", compare=False)
    # ---- the rest of the model family (model/variants.py); defaults = BinaryViT-S ----------
    cls_token: bool = False      # official --enable-cls-token: prepend a class token, head reads it
    stem_norm: bool = True       # BatchNorm after the stem (pyramid: yes; official extra-res: no)
    fp_merge: bool = False       # official --some-fp: full-precision patch merging
    block: str = "binaryvit"     # "binaryvit" | "bivit" (Bi-ViT binary DeiT) | "deit" (FP DeiT)

    def __post_init__(self):
        for key in ("image_size", "patch_size", "in_channels", "num_classes"):
            object.__setattr__(self, key, _as_int(key, getattr(self, key)))
        for key in ("dims", "depths", "heads", "sr_ratios", "ffn_sizes"):
            values = getattr(self, key)
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise ConfigError(f"{key} must be a list of integers (one per stage), got "
                                  f"{values!r}")
            object.__setattr__(self, key, tuple(_as_int(key, v) for v in values))
        for key in ("pool_branches", "layerscale", "cls_token", "stem_norm", "fp_merge"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"{key} must be true or false, got {getattr(self, key)!r}")
        eps = self.norm_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (
                math.isfinite(eps) and eps > 0):
            raise ConfigError(f"norm_eps must be a finite number > 0, got {eps!r}")
        object.__setattr__(self, "norm_eps", float(eps))
        if not isinstance(self.name, str):
            raise ConfigError(f"name must be a string, got {self.name!r}")
        if self.block not in BLOCKS:
            raise ConfigError(f"block must be one of {', '.join(BLOCKS)}, got {self.block!r}")
        self._validate()

    # ---- derived values -------------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        return len(self.dims)

    @property
    def num_blocks(self) -> int:
        return sum(self.depths)

    @property
    def head_dims(self) -> tuple[int, ...]:
        return tuple(d // h for d, h in zip(self.dims, self.heads))

    @property
    def stage_grids(self) -> tuple[int, ...]:
        """Side of the (square) token grid of every stage."""
        first = self.image_size // self.patch_size
        return tuple(first >> s for s in range(self.num_stages))

    @property
    def stage_tokens(self) -> tuple[int, ...]:
        """Patch tokens of every stage (the class token, if any, comes on top)."""
        return tuple(g * g for g in self.stage_grids)

    @property
    def extra_tokens(self) -> int:
        """Tokens before the patch tokens: 1 with a class token, else 0."""
        return int(self.cls_token)

    @property
    def binary(self) -> bool:
        """False only for the full-precision DeiT (the distillation teacher)."""
        return self.block != "deit"

    # ---- validation -----------------------------------------------------------------------
    def _validate(self):
        n = len(self.dims)
        if n < 1:
            raise ConfigError("dims must list at least one stage width")
        for key in ("depths", "heads", "sr_ratios", "ffn_sizes"):
            if len(getattr(self, key)) != n:
                raise ConfigError(f"{key} has {len(getattr(self, key))} entries but dims has {n}; "
                                  "give one value per stage")
        for key in ("image_size", "patch_size", "in_channels", "num_classes"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.image_size % self.patch_size:
            raise ConfigError(f"image_size {self.image_size} is not a multiple of patch_size "
                              f"{self.patch_size}")
        grid = self.image_size // self.patch_size
        if grid % (1 << (n - 1)):
            raise ConfigError(f"the token grid {grid}x{grid} must halve {n - 1} times for {n} "
                              f"stages; use an image_size that is a multiple of "
                              f"{self.patch_size << (n - 1)}")
        for s in range(n):
            d, h, r, f, depth = (self.dims[s], self.heads[s], self.sr_ratios[s],
                                 self.ffn_sizes[s], self.depths[s])
            g = grid >> s
            if min(d, h, r, f, depth) < 1:
                raise ConfigError(f"stage {s}: dims, heads, sr_ratios, ffn_sizes and depths must "
                                  "all be >= 1")
            if d % h:
                divisors = [str(k) for k in range(1, d + 1) if d % k == 0]
                shown = ", ".join(divisors[:12]) + (", ..." if len(divisors) > 12 else "")
                raise ConfigError(f"stage {s}: dim {d} is not a multiple of heads {h} (every "
                                  f"head gets dim/heads channels); give heads that divide {d}: "
                                  f"{shown}")
            if f % d:
                raise ConfigError(f"stage {s}: ffn size {f} must be a multiple of dim {d} (the FFN "
                                  "shortcuts repeat / average channel groups)")
            if g % r:
                raise ConfigError(f"stage {s}: spatial-reduction ratio {r} does not divide the "
                                  f"{g}x{g} token grid")
            if s and self.dims[s] % self.dims[s - 1] and not self.fp_merge:
                raise ConfigError(f"stage {s}: dim {d} must be a multiple of the previous stage's "
                                  f"{self.dims[s - 1]} (the merge shortcut repeats channels)")
        self._validate_family()

    def _validate_family(self):
        """The combinations of the family's switches that have no defined network."""
        n = len(self.dims)
        if self.cls_token and n > 1:
            raise ConfigError("cls_token needs a single stage (a plain ViT): the patch merges have "
                              "no class-token path; use one stage or set cls_token false")
        if self.cls_token and max(self.sr_ratios) > 1:
            raise ConfigError("cls_token with sr_ratios > 1: spatial reduction pools the token "
                              "grid, where the class token has no place; set sr_ratios to 1 or "
                              "cls_token false")
        if self.fp_merge and n == 1:
            raise ConfigError("fp_merge needs at least two stages (a one-stage model has no patch "
                              "merge); set fp_merge false")
        if self.block != "binaryvit":
            what = f"block {self.block!r} (a DeiT block, as Bi-ViT binarizes it)"
            if n > 1:
                raise ConfigError(f"{what} is a plain ViT: give one stage (dims, depths, heads, "
                                  "sr_ratios and ffn_sizes with one entry each)")
            if max(self.sr_ratios) > 1 or self.pool_branches or self.layerscale:
                raise ConfigError(f"{what} has no spatial reduction, pooling branches or "
                                  "LayerScale; set sr_ratios [1], pool_branches false and "
                                  "layerscale false")

    # ---- (de)serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        """All fields, except the family switches left at their default (so a BinaryViT config
        is written exactly as before they existed)."""
        d = asdict(self)
        for key in ("dims", "depths", "heads", "sr_ratios", "ffn_sizes"):
            d[key] = list(d[key])
        for key in FAMILY_FIELDS:
            if d[key] == self.__dataclass_fields__[key].default:
                del d[key]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "BinaryViTConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config fields {unknown}; known: {sorted(known)}")
        return cls(**d)

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path) -> "BinaryViTConfig":
        """Read our own config JSON, or an official BinaryViT config.json (detected by its keys)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            d = json.loads(path.read_bytes().decode("utf-8-sig"))   # a UTF-8 BOM is accepted
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); give a JSON config "
                              "file") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        except RecursionError:
            raise ConfigError(f"{path}: JSON nested too deeply to be a config") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{path}: holds a JSON {type(d).__name__}, not an object of config "
                              "fields")
        try:
            return cls.from_official(d) if "hidden_size" in d else cls.from_dict(d)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigError(f"{path}: a field has the wrong type or value ({exc}); see "
                              "BinaryViTConfig for the fields and their types") from None

    @classmethod
    def from_official(cls, d: dict) -> "BinaryViTConfig":
        """Build from the official training code's effective config.json (transformers ViTConfig
        fields plus the script flags; see shared/reference/README.md)."""
        for key, want in (("weight_bits", 1), ("input_bits", 1)):
            if d.get(key, want) != want:
                raise ConfigError(f"official config has {key}={d[key]}; only the fully binary "
                                  f"model ({key}=1) is supported")
        if d.get("norm_layer", "BatchNormT") not in ("BatchNormT", "SyncBatchNormT"):
            raise ConfigError(f"official config norm_layer={d['norm_layer']!r}: only the "
                              "--replace-ln-bn (BatchNorm) model is supported")
        if bool(d.get("avg_res3", True)) != bool(d.get("avg_res5", True)):
            raise ConfigError("official config enables only one of avg_res3/avg_res5; both or "
                              "neither are supported")
        if not isinstance(d.get("hidden_size"), list):
            return cls._from_official_extra_res(d)
        missing = [k for k in ("hidden_size", "depths", "num_attention_heads", "reduction_ratio",
                               "intermediate_size") if k not in d]
        if missing:
            raise ConfigError(f"official config lacks {missing}")
        if d.get("enable_cls_token", False):
            raise ConfigError("official config has enable_cls_token=true; the pyramid model "
                              "uses global average pooling, set it to false")
        if len(d["hidden_size"]) != 4:
            raise ConfigError("the official pyramid model has exactly 4 stages")
        return cls(
            # The official stem hard-codes patch 4 whatever the json says (reference README).
            image_size=int(d.get("image_size", 224)), patch_size=4,
            in_channels=int(d.get("num_channels", 3)), num_classes=int(d.get("num_labels", 1000)),
            dims=d["hidden_size"], depths=d["depths"], heads=d["num_attention_heads"],
            sr_ratios=d["reduction_ratio"], ffn_sizes=d["intermediate_size"],
            pool_branches=bool(d.get("avg_res3", True)),
            layerscale=not bool(d.get("disable_layerscale", False)),
            fp_merge=bool(d.get("some_fp", False)),
            norm_eps=float(d.get("layer_norm_eps", 1e-5)), name="official")

    @classmethod
    def _from_official_extra_res(cls, d: dict) -> "BinaryViTConfig":
        """The official plain-ViT model (`--model-type=extra-res`,
        transformer/modeling_vit_extra_res.py): one stage, patch_size read from the json, no
        BatchNorm after the stem, optional class token. `some_fp` is not read by that model."""
        missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                               "intermediate_size", "patch_size") if k not in d]
        if missing:
            raise ConfigError(f"official plain-ViT config lacks {missing}")
        return cls(
            image_size=int(d.get("image_size", 224)), patch_size=d["patch_size"],
            in_channels=int(d.get("num_channels", 3)), num_classes=int(d.get("num_labels", 1000)),
            dims=[d["hidden_size"]], depths=[d["num_hidden_layers"]],
            heads=[d["num_attention_heads"]], sr_ratios=[1], ffn_sizes=[d["intermediate_size"]],
            pool_branches=bool(d.get("avg_res3", False)),
            layerscale=not bool(d.get("disable_layerscale", False)),
            cls_token=bool(d.get("enable_cls_token", False)), stem_norm=False,
            norm_eps=float(d.get("layer_norm_eps", 1e-5)), name="official")


def tiny_digits_config() -> BinaryViTConfig:
    """The tiny fully binary BinaryViT trained on scikit-learn's 8x8 digits."""
    return BinaryViTConfig(image_size=8, patch_size=1, in_channels=1, num_classes=10,
                           dims=(32, 64), depths=(1, 1), heads=(1, 2), sr_ratios=(2, 1),
                           ffn_sizes=(64, 128), name="digits-tiny")
