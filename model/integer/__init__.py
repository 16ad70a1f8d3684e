"""Integer-only BinaryViT: fold a trained float BinaryViT into integer constants and run it with
integer operations only (model/INTEGER.md documents every op, width and rounding).

- :func:`fold_model` (fold.py): calibration on training images + folding -> IntegerBinaryViT
- :class:`IntegerBinaryViT` (intmodel.py): the constants, ``save(dir)`` / ``load(dir)``
- :func:`quantize_images` (fold.py): the network's integer input
- :func:`network_steps` / :func:`run_reference` (run.py): the integer network as a generator of
  hw.ops ops, and driven by the model's own executor
- ops.py: the integer primitives; fixed.py: fold-time fixed-point helpers; calibrate.py: the
  calibration; compare.py: agreement with the float model; export.py: golden job files
"""

from .fold import fold_model, quantize_images
from .intmodel import DIGITS_INPUT, InputFormat, IntegerBinaryViT, IntegerModelError
from .run import IntegerRun, drive, execute, network_steps, run_reference

__all__ = ["DIGITS_INPUT", "InputFormat", "IntegerBinaryViT", "IntegerModelError", "IntegerRun",
           "drive", "execute", "fold_model", "network_steps", "quantize_images", "run_reference"]
