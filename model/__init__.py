"""BinaryViT in PyTorch: the model, official-checkpoint loading, training and golden export."""

from .binaryvit import BinaryViT
from .config import BinaryViTConfig, ConfigError, tiny_digits_config
from .official import OfficialCheckpointError, load_official, save_official, to_official_state_dict

__all__ = ["BinaryViT", "BinaryViTConfig", "ConfigError", "OfficialCheckpointError",
           "load_official", "save_official", "tiny_digits_config", "to_official_state_dict"]
