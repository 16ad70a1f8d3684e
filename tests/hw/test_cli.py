"""The hw CLI: cycles JSON, verilog output, --help, clear errors."""

import json
import subprocess
import sys

import pytest

from hw.config import ArrayConfig
from hw.cost.cycles import matmul_cycles


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          timeout=120)


def test_cycles_json_line():
    r = run("hw", "cycles", "--rows", "4", "--cols", "4", "--simd", "32", "--m", "10", "--n", "7",
            "--k", "100")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["cycles"] == matmul_cycles(ArrayConfig(rows=4, cols=4, simd=32), 10, 7, 100)


@pytest.mark.parametrize("args, words", [
    (["--simd", "0"], "simd"), (["--rows", "0"], "rows"), (["--cols", "0"], "cols"),
    (["--k", "5000"], "max_k"),
])
def test_cycles_bad_config_is_a_clear_error(args, words):
    base = {"--m": "4", "--n": "4", "--k": "8"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    r = run("hw", "cycles", *[x for kv in base.items() for x in kv])
    assert r.returncode == 2 and words in r.stderr and not r.stdout


@pytest.mark.parametrize("mod, sub", [("hw", None), ("hw", "verilog"), ("hw", "cycles"),
                                      ("sim", None), ("sim", "array"), ("sim", "all")])
def test_help(mod, sub):
    r = run(mod, *([sub] if sub else []), "--help")
    assert r.returncode == 0 and "usage" in r.stdout
