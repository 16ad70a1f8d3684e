"""``python -m hw synth --replace FILE --from DIR``: reviewed rerun records put in place of the
committed ones of the same measurement, in the committed order, the others kept, the file
written whole or not at all (hw/synth/replace.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hw.paths import SYNTH_DATA_DIR
from hw.synth.replace import replaced_records
from hw.synth.rerun import RerunError

REPO = Path(__file__).resolve().parents[2]
NEXTPNR = "--85k --freq 200 --seed {seed} --timing-allow-fail"


def rec(command, seed=1, lut=100, **extra):
    return {"command": command, "flags": {"nextpnr": NEXTPNR.format(seed=seed)}, "lut": lut,
            "config": {}, **extra}


def hw(*args):
    return subprocess.run([sys.executable, "-m", "hw", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_reruns_take_their_records_places_in_order():
    committed = [rec("a"), rec("b"), rec("a", seed=2), rec("c")]
    rerun = [rec("c", lut=7), rec("a", seed=2, lut=5), rec("a", lut=3)]   # finish order
    out, swapped = replaced_records(committed, rerun)
    assert swapped == 3
    assert [(r["command"], r["lut"]) for r in out] == [("a", 3), ("b", 100), ("a", 5), ("c", 7)]


def test_failed_or_stray_reruns_are_refused():
    with pytest.raises(RerunError, match="failed"):
        replaced_records([rec("a")], [rec("a", error="nextpnr timed out")])
    with pytest.raises(RerunError, match="match no committed record"):
        replaced_records([rec("a")], [rec("a", seed=3)])


@pytest.mark.parametrize("name", sorted(p.name for p in SYNTH_DATA_DIR.glob("*.jsonl")))
def test_committed_files_round_trip_byte_identical(tmp_path, name):
    """Each committed record file with an empty rerun: every record kept, byte for byte."""
    path, rerun = tmp_path / name, tmp_path / "rerun"
    path.write_bytes((SYNTH_DATA_DIR / name).read_bytes())
    rerun.mkdir()
    (rerun / name).write_text("")
    res = hw("synth", "--replace", str(path), "--from", str(rerun))
    assert res.returncode == 0, res.stderr
    assert path.read_bytes() == (SYNTH_DATA_DIR / name).read_bytes()
    assert "0 record(s) replaced" in res.stdout


def test_cli_replaces_and_refuses_in_one_line(tmp_path):
    committed, rerun = tmp_path / "x.jsonl", tmp_path / "rerun"
    rerun.mkdir()
    (tmp_path / "empty").mkdir()
    committed.write_text(json.dumps(rec("a")) + "\n" + json.dumps(rec("b")) + "\n")
    (rerun / "x.jsonl").write_text(json.dumps(rec("b", lut=9)) + "\n")
    res = hw("synth", "--replace", str(committed), "--from", str(rerun))
    assert res.returncode == 0, res.stderr
    assert [json.loads(ln)["lut"] for ln in committed.read_text().splitlines()] == [100, 9]
    assert "1 record(s) replaced, 1 kept" in res.stdout

    before = committed.read_bytes()
    (rerun / "x.jsonl").write_text(json.dumps(rec("z")) + "\n")
    for args, words in ((["--replace", str(committed)], "go together"),
                        (["--from", str(rerun)], "go together"),
                        (["--replace", str(tmp_path / "none.jsonl"), "--from", str(rerun)],
                         "no such file"),
                        (["--replace", str(committed), "--from", str(tmp_path / "empty")],
                         "no rerun records"),
                        (["--replace", str(committed), "--from", str(tmp_path)], "own folder"),
                        (["--replace", str(committed), "--from", str(rerun)], "match no committed")):
        res = hw("synth", *args)
        assert res.returncode == 2, (args, res.stderr)
        assert words in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert committed.read_bytes() == before          # nothing written on a refusal
