"""Shared fixtures: where the (optional) ../shared/reference data lives; the YoWASP cache warm-up."""

import os
import sys
from pathlib import Path

import pytest

from hw.synth.yowasp_cache import warm_yowasp_cache

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


def pytest_sessionstart(session):
    """Fill the YoWASP cache before any test (or xdist worker) starts. Runs in the main process
    only: pytest-xdist starts its workers after this hook, so they find the cache warm."""
    if hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    log = reporter.write_line if reporter is not None else (lambda m: print(m, file=sys.stderr))
    warm_yowasp_cache(log=log)
