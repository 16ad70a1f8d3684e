"""The trained variants' binary ops on the RTL (Icarus), exported from the committed checkpoints
(model/checkpoints/<variant>, 1 image) and run by ``python -m sim all --golden DIR
--no-random``: every output bit-exact and every job's cycles equal to the model.

Default suite (time): reactdeit-s, the jobs of its first block (block 1 repeats the same
shapes), without the stall run: 11 of its 22 jobs, every distinct op shape of the variant.
Slow (``make test-all``; ``make sim-variants`` runs the same): every trained variant, all its
jobs, with the random-stall run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hw.opfile import load_manifest, write_manifest
from hw.cost.network import VARIANT_NAMES

REPO = Path(__file__).resolve().parents[2]
#: the variants with binary ops (the FP teacher has none)
SIM_VARIANTS = [v for v in VARIANT_NAMES if v != "fp-teacher"]


def export(variant: str, out: Path) -> Path:
    r = subprocess.run([sys.executable, "-m", "model", "export", "--checkpoint",
                        str(REPO / "model" / "checkpoints" / variant), "--images", "1",
                        "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return out


def simulate(golden: Path, rows_json: Path, *extra: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "sim", "all", "--golden", str(golden),
                        "--no-random", "--workers", "1", "--json", str(rows_json), *extra],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    doc = json.loads(rows_json.read_text())
    n = len(doc["rows"])
    assert f"{n} passed, 0 failed" in r.stdout
    assert f"cycles: {n} of {n} jobs equal the model exactly" in r.stdout
    for row in doc["rows"]:
        assert row["mismatches"] == 0 and row["cycles_match"], row
    return doc


def first_block(src: Path, dst: Path) -> list[str]:
    """A golden folder with the ops of ``src`` outside blocks 1+ (block 0 and the rest)."""
    manifest = load_manifest(src)
    keep = [op for op in manifest["ops"] if ".blocks." not in op["name"]
            or ".blocks.0." in op["name"]]
    dst.mkdir()
    for op in keep:
        shutil.copy(src / op["file"], dst / op["file"])
    fields = {k: v for k, v in manifest.items() if k not in ("format_version", "kind", "ops")}
    write_manifest(dst, keep, **fields)
    return [op["name"] for op in keep]


def test_reactdeit_s_ops_bit_exact_on_the_rtl(tmp_path):
    golden = export("reactdeit-s", tmp_path / "golden")
    names = first_block(golden, tmp_path / "block0")
    all_shapes = {json.dumps(op["shape"], sort_keys=True)
                  for op in load_manifest(golden)["ops"]}
    kept = {json.dumps(op["shape"], sort_keys=True)
            for op in load_manifest(tmp_path / "block0")["ops"]}
    assert kept == all_shapes and len(names) == 11      # every distinct shape, half the jobs
    doc = simulate(tmp_path / "block0", tmp_path / "rows.json", "--no-stalls")
    assert [r["op"] for r in doc["rows"]] == names


@pytest.mark.slow
@pytest.mark.parametrize("variant", SIM_VARIANTS)
def test_every_variant_bit_exact_on_the_rtl_with_stalls(variant, tmp_path):
    golden = export(variant, tmp_path / "golden")
    doc = simulate(golden, tmp_path / "rows.json")
    assert len(doc["rows"]) == len(load_manifest(golden)["ops"])
    for row in doc["rows"]:
        assert row["stalls"]["mismatches"] == 0 and row["stalls"]["error"] is None, row
