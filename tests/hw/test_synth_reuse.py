"""Carrying a synthesis record over to a new RTL revision (hw/synth/reuse.py): only a record
that measured byte-identical Verilog with the same tools and flags is reused, and the CLI's
``--reuse`` returns it without running the tools while a changed config runs them."""

import json
import subprocess
import sys
from pathlib import Path

from hw.synth.reuse import carried_over, find_reusable

REPO = Path(__file__).resolve().parents[2]

FLAGS = {"yosys": "synth_ecp5 -nowidelut", "bram_outreg": "pass", "nextpnr": "--85k --seed 1"}
REC = {"command": "python -m hw synth --device ecp5-85 --rows 2", "verilog_sha256": "ab" * 8,
       "tools": {"yosys": "0.70"}, "flags": FLAGS,
       "rtl_revision": "old000000000", "lut": 123, "fmax_mhz": 150.0}
KEYS = dict(command=REC["command"], verilog_sha256=REC["verilog_sha256"], tools=REC["tools"],
            flags=FLAGS)


def test_only_identical_inputs_are_reused():
    assert find_reusable([REC], **KEYS) is REC
    for key, other in (("command", REC["command"] + " --max-k 64"),
                       ("verilog_sha256", "ab" * 7 + "ac"),
                       ("tools", {"yosys": "0.71"}),
                       ("flags", {**FLAGS, "nextpnr": "--85k --seed 2"}),
                       ("flags", {k: v for k, v in FLAGS.items() if k != "nextpnr"}),
                       ("flags", {**FLAGS, "yosys": "synth_ecp5"})):
        assert find_reusable([REC], **{**KEYS, key: other}) is None, key
    assert find_reusable([{**REC, "error": "yosys failed"}], **KEYS) is None
    assert find_reusable([{**REC, "lut": 1}, REC], **KEYS)["lut"] == 1     # the first match


def test_carried_record_keeps_its_measurements_and_first_revision():
    new = carried_over(REC, "new111111111")
    assert new["rtl_revision"] == "new111111111"
    assert new["reused"]["measured_under"] == "old000000000"
    assert {k: v for k, v in new.items() if k not in ("rtl_revision", "reused")} == \
        {k: v for k, v in REC.items() if k != "rtl_revision"}
    again = carried_over(new, "new222222222")
    assert again["reused"]["measured_under"] == "old000000000"


def _synth(*extra):
    args = ["--device", "ice40-hx8k", "--rows", "1", "--cols", "1", "--simd", "16",
            "--max-k", "64", "--max-m", "8", "--max-n", "8", "--pool-max-dim", "8",
            "--pool-max-planes", "8", "--pool-max-kernel", "3", "--pool-row-depth", "32",
            "--no-pnr"]
    res = subprocess.run([sys.executable, "-m", "hw", "synth", *args, *extra], cwd=REPO,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_cli_reuse_skips_the_tools_only_for_identical_verilog(tmp_path):
    """A real yosys run, then --reuse of its record: the same measurements, marked reused, no
    tool time; with the record's Verilog hash changed by one digit the tools run again."""
    first = tmp_path / "first.jsonl"
    rec = _synth("--append", str(first))
    assert "reused" not in rec
    again = _synth("--reuse", str(first))
    assert again["reused"]["measured_under"] == rec["rtl_revision"]
    assert {k: again[k] for k in ("lut", "ff", "bram", "seconds", "verilog_sha256")} == \
        {k: rec[k] for k in ("lut", "ff", "bram", "seconds", "verilog_sha256")}
    stale = tmp_path / "stale.jsonl"
    sha = rec["verilog_sha256"]
    stale.write_text(json.dumps({**rec, "verilog_sha256": sha[:-1] + ("0" if sha[-1] != "0"
                                                                      else "1")}) + "\n")
    rerun = _synth("--reuse", str(stale))
    assert "reused" not in rerun and rerun["lut"] == rec["lut"]


def test_committed_records_have_the_flags_the_flow_writes():
    """record_flags (what --reuse compares) is what synth_verilog wrote into every committed
    record, so an unchanged config is reused and a changed flag is not."""
    import re

    from hw.cost.devices import get_device
    from hw.paths import SYNTH_DATA_DIR
    from hw.synth.flow import record_flags
    from hw.synth.seeds import replicate_of, timing_weight_of

    for path in sorted(SYNTH_DATA_DIR.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            nextpnr = rec["flags"].get("nextpnr", "")
            seed = int(re.search(r"--seed (\d+)", nextpnr).group(1)) if nextpnr else 1
            freq = re.search(r"--freq (\S+)", nextpnr)      # the record's own target, rip-up
            want = record_flags(get_device(rec["device"]), pnr="--no-pnr" not in rec["command"],
                                seed=seed, freq_mhz=float(freq.group(1)) if freq else None,
                                tmg_ripup="--tmg-ripup" in nextpnr.split(),
                                timing_weight=timing_weight_of(rec),
                                replicate=replicate_of(rec))
            assert rec["flags"] == want, (path.name, rec["command"])
