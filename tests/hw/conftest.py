"""Fixtures shared by the hw tests."""

import json

import pytest

from hw.config import ArrayConfig
from hw.cost import resources


@pytest.fixture(scope="module")
def coeffs(tmp_path_factory):
    """Made-up coefficients in the resource-model format (test data only)."""
    feats = resources.features(ArrayConfig())
    fams = {fam: {key: {"features": list(feats[key]), "coef": [1.0] * len(feats[key])}
                  for key in ("lut", "ff", "carry", "dsp", "fmax_mhz")}
            for fam in ("ecp5", "ice40", "xc7")}
    path = tmp_path_factory.mktemp("coeffs") / "resource_model.json"
    path.write_text(json.dumps({"families": fams}))
    return path
