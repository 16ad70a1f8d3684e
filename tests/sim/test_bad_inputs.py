"""Bad configs and bad job files are rejected with a clear message before any simulation."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hw.config import ConfigError
from hw.opfile import pack_bits
from sim.runner import build_dir_for, run_jobs
from sim.suite import random_matmul, save_jobs

from sim.suite import small_config as small


def run(*args):
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          timeout=120)


def test_k_above_max_k_rejected_before_simulation(tmp_path):
    cfg = small(max_k=40, max_m=5)     # a config never built by another test
    paths = save_jobs([random_matmul("too_long", "xnor", 2, 2, 41, 1)], tmp_path)
    with pytest.raises(ConfigError, match="max_k=40"):
        run_jobs(cfg, paths)
    assert not build_dir_for(cfg, None, "icarus").exists()


@pytest.mark.parametrize("args, words", [
    (["--simd", "0"], "simd"), (["--rows", "0"], "rows"), (["--cols", "0"], "cols"),
    (["--k", "4096"], "max_k"),
])
def test_sim_array_bad_config(args, words):
    base = {"--m": "3", "--n": "3", "--k": "8"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    r = run("array", *[x for kv in base.items() for x in kv])
    assert r.returncode == 2 and words in r.stderr and not r.stdout


def test_golden_file_with_wrong_header_rejected(tmp_path):
    a = np.ones((4, 10), dtype=np.uint8)
    np.savez(tmp_path / "0000_bad.npz", format_version=1, kind="matmul", name="bad", mode="xnor",
             m=5, n=4, k=10, a_bits=pack_bits(a), w_bits=pack_bits(a),
             result=np.zeros((5, 4), dtype=np.int32))
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"ops": [{"name": "bad", "kind": "matmul", "file": "0000_bad.npz"}]}))
    r = run("all", "--golden", str(tmp_path), "--no-random")
    assert r.returncode == 2
    assert "M=5" in r.stderr and "simulating" not in r.stdout


def test_missing_golden_dir_is_a_clear_error(tmp_path):
    r = run("all", "--golden", str(tmp_path / "nope"), "--no-random")
    assert r.returncode == 2 and "manifest.json" in r.stderr
