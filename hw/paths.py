"""The repository's data directories, defined once (the command lines pass them to the library
functions as defaults; the library never writes into the repository by itself)."""

from __future__ import annotations

from pathlib import Path

#: the repository root (``hw/`` is one level below it)
REPO = Path(__file__).resolve().parents[1]
#: committed synthesis records (``synth_*.jsonl``, ``fmax_array_*.jsonl``) and the fitted
#: resource model (``resource_model.json``)
SYNTH_DATA_DIR = REPO / "hw" / "synth" / "data"
#: the fitted resource model
RESOURCE_MODEL = SYNTH_DATA_DIR / "resource_model.json"
#: generated cost reports, one folder per network
REPORTS_DIR = REPO / "reports"
#: RTL simulation results that the reports read (``python -m sim all --json``)
SIM_RESULTS_DIR = REPORTS_DIR / "sim"
#: the committed checkpoints: digits/ (the tiny BinaryViT) and one folder per variant of
#: model/variants.py (``python -m model train --variant NAME``)
CHECKPOINTS_DIR = REPO / "model" / "checkpoints"
#: the committed tiny checkpoint trained on scikit-learn's digits
DIGITS_CHECKPOINT = CHECKPOINTS_DIR / "digits"
#: the co-design table of the model family (``python -m hw compare``)
VARIANTS_REPORT_DIR = REPORTS_DIR / "variants"
