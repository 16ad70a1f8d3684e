"""Shared fixtures: where the (optional) ../shared/reference data lives."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("BINARYVIT_REFERENCE", REPO.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference (official BinaryViT key list, config, official_small checkpoint);
    tests that need it skip when it is absent (users clone only the project; CI has it)."""
    if not (REFERENCE / "binaryvit_official_config.json").is_file():
        pytest.skip(f"reference data not found at {REFERENCE} (set BINARYVIT_REFERENCE to the "
                    "shared/reference directory to run this test)")
    return REFERENCE


def pytest_configure(config):
    """One intra-op thread per test process: pytest-xdist already uses both cores, and torch's
    thread pool on an oversubscribed machine is tens of times slower than one thread."""
    import torch

    torch.set_num_threads(1)
