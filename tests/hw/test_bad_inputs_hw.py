"""Issue 12, ``python -m hw`` side ("nothing lost, nothing silent"): every bad value is refused
before any work with exit status 2 and one ``error: ...`` line naming the flag or file, with no
traceback (``--debug`` shows it); every output is written whole or not at all and nothing the
tool did not write is replaced; exit statuses come from exception types.

One test (or one parametrized test) per row of the issue's table that belongs to hw.
"""

from __future__ import annotations

import contextlib
import errno
import json
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from hw.__main__ import main
from hw.config import (DEFAULT, MAX_ELABORATED_PE_BITS, MAX_MEMORY_BITS, MAX_ROWS_COLS,
                       ArrayConfig, ConfigError, check_elaboration, memory_bits)
from hw.cost import resources

REPO = Path(__file__).resolve().parents[2]


def tree(root: Path) -> dict:
    """Every file under ``root`` with its bytes (to show nothing changed, nothing was added)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*"))
            if p.is_file()} if Path(root).exists() else {}


def refused(argv, capsys, *words, status=2) -> str:
    """Run ``python -m hw ARGV`` in-process; assert the exit status and exactly one stderr line,
    ``error: ...``, holding every one of ``words``, no traceback, nothing on stdout."""
    try:
        rc = main(argv)
    except SystemExit as exc:       # argparse's own errors
        rc = exc.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == status, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and not out.strip(), (out, err)
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture
def no_elaboration(monkeypatch):
    """Fail the test if the Verilog writer starts elaborating (the checks must come first)."""
    import hw.rtl.verilog as verilog

    def boom(*a, **k):
        raise AssertionError("elaboration started before the inputs were checked")
    monkeypatch.setattr(verilog, "generate", boom)


# ---- row 3: DSE ranges ------------------------------------------------------------------------
@pytest.mark.parametrize("flag, lo, hi, words", [
    ("--rows-range", "10", "1", "LO is above HI"),
    ("--cols-range", "5", "4", "the range is empty"),
    ("--rows-range", "0", "4", "LO must be >= 1"),
    ("--cols-range", "-3", "4", "LO must be >= 1"),
    ("--rows-range", "1", "300", f"HI must be <= {MAX_ROWS_COLS}"),
])
def test_row3_dse_empty_reversed_or_non_positive_range(flag, lo, hi, words, tmp_path, coeffs,
                                                       capsys):
    out = tmp_path / "dse"
    refused(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs", str(coeffs),
             flag, lo, hi, "--out", str(out), "--quiet"], capsys, f"{flag} {lo} {hi}", words)
    assert not out.exists()


def test_row3_dse_bad_simds_and_library_never_falls_back_to_the_default(tmp_path, coeffs,
                                                                         capsys):
    from hw.cost.dse import DSEError, run_dse

    refused(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--simds", "12",
             "--out", str(tmp_path / "d")], capsys, "--simds 12", "power of two")
    refused(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--simds", "16", "16",
             "--out", str(tmp_path / "d")], capsys, "--simds 16 16", "repeated")
    for kw in ({"rows": range(10, 2)}, {"cols": []}, {"simds": []}, {"rows": [0, 1]}):
        with pytest.raises(DSEError):
            run_dse("digits-tiny", "ecp5-85", DEFAULT, coeffs=coeffs, out_dir=tmp_path / "d",
                    progress=False, **kw)
    assert not (tmp_path / "d").exists()


def test_row3_a_failed_sweep_creates_no_folder(tmp_path, coeffs, capsys):
    out = tmp_path / "a" / "b"
    refused(["dse", "--network", "digits-tiny", "--device", "ice40-up5k", "--coeffs",
             str(coeffs), "--rows-range", "1", "2", "--cols-range", "1", "2", "--simds", "16",
             "--out", str(out), "--quiet"], capsys, "no config of the sweep fits ice40-up5k",
            status=3)
    assert list(tmp_path.iterdir()) == []


# ---- rows 4/5: hw cycles ----------------------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--pool", "1", "4", "4", "--kernel", "9", "9"], ["--kernel 9 9", "larger than the padded"]),
    (["--pool", "100000", "100000", "100000", "--kernel", "3", "3"],
     ["--pool 100000 100000 100000", "pool_max_dim=1024", "--pool-max-dim"]),
    (["--pool", "4000", "8", "8", "--kernel", "2", "2"], ["--pool 4000 8 8", "pool_max_planes"]),
    (["--pool", "1", "8", "8", "--kernel", "3", "3", "--padding", "-1", "0"],
     ["--padding -1 0", ">= 0"]),
    (["--pool", "1", "8", "8", "--kernel", "0", "0"], ["--kernel 0 0", ">= 1"]),
    (["--pool", "1", "8", "8", "--kernel", "2", "2", "--stride", "0", "0"],
     ["--stride 0 0", ">= 1"]),
    (["--pool", "0", "8", "8", "--kernel", "2", "2"], ["--pool 0 8 8", ">= 1"]),
    (["--pool", "1", "8", "8", "--kernel", "20", "20", "--padding", "10", "10"],
     ["pool_max_kernel=16"]),
    (["--pool", "2", "8", "8"], ["--pool needs --kernel"]),
    (["--m", "0", "--n", "1", "--k", "1"], ["--m 0", ">= 1"]),
    (["--m", "4", "--n", "4", "--k", "100000"], ["--k 100000", "max_k=2048", "--max-k"]),
    (["--m", "4"], ["give --m, --n and --k"]),
])
def test_rows4_5_cycles_bad_jobs_are_one_line(args, words, capsys):
    refused(["cycles", *args], capsys, *words)


def test_rows4_5_cycles_legal_pool_still_works(capsys):
    assert main(["cycles", "--pool", "1", "8", "8", "--kernel", "3", "3", "--stride", "1", "1",
                 "--padding", "1", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"] == 64


# ---- row 7: a named --sim-json that does not exist ---------------------------------------------
def test_row7_report_missing_sim_json_is_an_error(tmp_path, coeffs, capsys):
    out = tmp_path / "rep"
    refused(["report", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
             str(coeffs), "--out", str(out), "--sim-json", str(tmp_path / "missing.json")],
            capsys, "--sim-json", "missing.json", "no such file")
    assert not out.exists()


# ---- row 8: the report folder whole or not at all --------------------------------------------
def _report(out, coeffs, *extra):
    return ["report", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
            str(coeffs), "--out", str(out), *extra]


def test_row8_report_failing_mid_write_leaves_the_old_report(tmp_path, coeffs, capsys,
                                                            monkeypatch):
    from hw.cost import plots

    out = tmp_path / "rep"
    assert main(_report(out, coeffs)) == 0
    capsys.readouterr()
    old = tree(out)
    assert json.loads(old["report.json"])["kind"] == "bvit-cost-report"

    def disk_full(*a, **k):
        tmp = next(tmp_path.glob(".rep.tmp-*"))        # the temporary folder being written
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "x.png"))
    monkeypatch.setattr(plots, "device_utilisation", disk_full)
    refused(_report(out, coeffs, "--rows", "2"), capsys, "No space left on device",
            str(tmp_path / "rep"), status=1)
    assert tree(out) == old                                   # the old report, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]   # no temporary left


def test_row8_report_killed_by_sigterm_leaves_the_old_report(tmp_path, coeffs):
    """SIGTERM during the write (delivered from inside, so no timing is involved): exit 143,
    the old folder intact, no temporary."""
    out = tmp_path / "rep"
    assert main(_report(out, coeffs)) == 0
    old = tree(out)
    code = ("import os, signal\n"
            "import hw.cost.plots as p\n"
            "p.device_utilisation = lambda *a, **k: os.kill(os.getpid(), signal.SIGTERM)\n"
            "from hw.__main__ import main\n"
            f"main({_report(out, coeffs, '--rows', '2')!r})\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    assert res.returncode == 128 + signal.SIGTERM, res.stderr
    assert tree(out) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_row8_report_replaces_only_its_own_folder_and_keeps_other_files(tmp_path, coeffs,
                                                                       capsys):
    # a folder with a user's report.md: not ours, untouched
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "report.md").write_text("my notes")
    refused(_report(mine, coeffs), capsys, str(mine), "not empty")
    assert tree(mine) == {"report.md": b"my notes"}
    # a report folder with the DSE's files and a user's file: both kept on regeneration
    out = tmp_path / "rep"
    assert main(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
                 str(coeffs), "--rows-range", "1", "2", "--cols-range", "1", "2", "--simds",
                 "32", "--out", str(out), "--quiet"]) == 0
    dse = tree(out)
    assert sorted(dse) == ["dse_ecp5-85.json", "dse_ecp5-85.png"]
    assert main(_report(out, coeffs)) == 0        # a folder of only our DSE files is ours
    (out / "user.txt").write_text("keep me")
    assert main(_report(out, coeffs, "--rows", "2")) == 0
    now = tree(out)
    assert {k: now[k] for k in dse} == dse and now["user.txt"] == b"keep me"
    assert "2x4x32" in now["report.md"].decode()
    # the DSE writes its two files into the report folder and leaves the report alone
    report_files = {k: v for k, v in now.items() if not k.startswith("dse_")}
    assert main(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
                 str(coeffs), "--rows-range", "1", "3", "--cols-range", "1", "2", "--simds",
                 "32", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    after = tree(out)
    assert {k: v for k, v in after.items() if not k.startswith("dse_")} == report_files
    assert json.loads(after["dse_ecp5-85.json"])["grid"]["rows"] == [1, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "rep"]


def test_row8_dse_never_replaces_a_dse_file_it_did_not_write(tmp_path, coeffs, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "dse_ecp5-85.json").write_text('{"mine": true}')
    refused(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs", str(coeffs),
             "--rows-range", "1", "2", "--cols-range", "1", "2", "--simds", "32", "--out",
             str(out), "--quiet"], capsys, "dse_ecp5-85.json", "not written by")
    assert tree(out) == {"dse_ecp5-85.json": b'{"mine": true}'}


def test_row8_committed_reports_are_ours_and_a_dead_runs_temporary_is_removed(tmp_path, coeffs,
                                                                             capsys):
    from hw.cost.dse import is_dse_file
    from hw.cost.report import is_report_dir

    for name in ("binaryvit-s", "digits-tiny"):     # written before the marker existed
        assert is_report_dir(REPO / "reports" / name)
    assert is_dse_file(REPO / "reports" / "binaryvit-s" / "dse_ecp5-85.json")
    out = tmp_path / "rep"
    assert main(_report(out, coeffs)) == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".rep.tmp-{dead}"            # what a SIGKILL'd run leaves
    stale.mkdir()
    (stale / "cycles_breakdown.png").write_bytes(b"")
    assert main(_report(out, coeffs)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


# ---- row 11: the Verilog files whole or not at all --------------------------------------------
def test_row11_verilog_on_a_full_disk_leaves_nothing_partial(tmp_path, capsys, monkeypatch):
    import hw.rtl.verilog as verilog

    out = tmp_path / "v"
    out.mkdir()
    (out / "bvit_top.v").write_text("old verilog\n")
    real = verilog.atomic_file

    @contextlib.contextmanager
    def full_disk(path, mode="w"):
        with real(path, mode) as fh:
            class Full:
                def write(self, text):
                    fh.write(text[:10])
                    raise OSError(errno.ENOSPC, "No space left on device")   # as write() does
            yield Full()
    monkeypatch.setattr(verilog, "atomic_file", full_disk)
    monkeypatch.setattr(verilog, "generate", lambda cfg, **k: "module bvit_top; endmodule\n")
    refused(["verilog", "--out", str(out)], capsys, f"writing --out {out}",
            "No space left on device", status=1)
    assert tree(out) == {"bvit_top.v": b"old verilog\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]


def test_row11_verilog_text_is_unchanged_by_the_atomic_writer(tmp_path):
    from hw.rtl.verilog import generate, write_verilog

    cfg = ArrayConfig(rows=1, cols=1, simd=16, max_k=64, max_m=8, max_n=8, pool_max_dim=8,
                      pool_max_planes=8, pool_max_kernel=3, pool_row_depth=64)
    top = write_verilog(cfg, tmp_path)
    assert top.read_text() == generate(cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bvit_top.json", "bvit_top.v",
                                                         "files.f"]


# ---- row 12: upper bounds --------------------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--rows", "100000", "--cols", "100000"], ["rows must be <= 256", "100,000"]),
    (["--rows", "64", "--cols", "64"], ["131,072 PE bits", f"{MAX_ELABORATED_PE_BITS:,}"]),
    (["--simd", "4096", "--rows", "1", "--cols", "1", "--max-m", "2048"],
     ["operand memories", "8,388,608"]),
])
def test_row12_verilog_refuses_sizes_past_the_bounds_before_elaborating(args, words, tmp_path,
                                                                        capsys, no_elaboration):
    refused(["verilog", *args, "--out", str(tmp_path / "v")], capsys, *words)
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("field, value, bound", [
    ("rows", 1_000_000, "256"), ("cols", 257, "256"), ("simd", 16384, "8,192"),
    ("max_k", 1 << 21, "1,048,576"), ("max_m", 1 << 21, "1,048,576"),
    ("max_n", 1 << 21, "1,048,576"), ("pool_max_dim", 1 << 17, "65,536"),
    ("pool_max_planes", 1 << 17, "65,536"), ("pool_max_kernel", 257, "256"),
    ("pool_row_depth", 1 << 17, "65,536"), ("pool_open_rows", 257, "256"),
    ("mem_piece_depth", 1 << 21, "1,048,576"),
])
def test_row12_config_fields_have_upper_bounds(field, value, bound, capsys):
    with pytest.raises(ConfigError, match=f"{field} must be <= {bound}, got {value:,}"):
        ArrayConfig(**{field: value})
    refused(["config", f"--{field.replace('_', '-')}", str(value)], capsys, bound,
            f"--{field.replace('_', '-')}")


def test_row12_memory_bound_and_every_committed_config_stays_valid(capsys):
    from hw.cost.dse import default_simds
    from hw.synth.sweep import SWEEPS, sweep_configs

    refused(["config", "--max-m", "65536", "--max-k", "65536"], capsys, "operand memories",
            f"{MAX_MEMORY_BITS:,}")
    for path in (REPO / "hw" / "synth" / "data").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            check_elaboration(ArrayConfig.from_dict(json.loads(line)["config"]))
    for name in SWEEPS:
        for _, cfg, _ in sweep_configs(name):
            check_elaboration(cfg)
    for simd in default_simds(DEFAULT):        # the DSE grid: R, C 1..64, SIMD up to 512
        for r, c in ((1, 1), (1, 64), (64, 1), (63, 63), (64, 64)):
            assert memory_bits(replace(DEFAULT, rows=r, cols=c, simd=simd)) <= MAX_MEMORY_BITS


# ---- row 13: non-finite floats ---------------------------------------------------------------
@pytest.mark.parametrize("argv, flag", [
    (["config", "--clock-mhz", "inf"], "--clock-mhz"),
    (["config", "--clock-mhz", "nan"], "--clock-mhz"),
    (["config", "--clock-mhz", "-5"], "--clock-mhz"),
    (["cycles", "--m", "1", "--n", "1", "--k", "1", "--clock-mhz", "Infinity"], "--clock-mhz"),
    (["network", "--network", "digits-tiny", "--bandwidth", "inf"], "--bandwidth"),
    (["report", "--network", "digits-tiny", "--device", "ecp5-85", "--bandwidth", "nan"],
     "--bandwidth"),
    (["synth", "--device", "ecp5-85", "--freq", "inf"], "--freq"),
    (["synth", "--device", "ecp5-85", "--timeout", "nan"], "--timeout"),
])
def test_row13_non_finite_floats_are_refused(argv, flag, capsys):
    refused(argv, capsys, flag, "finite")


def test_row13_config_refuses_non_finite_clock_in_the_library():
    for clk in (float("inf"), float("nan"), 0.0, 5000.0, True):
        with pytest.raises(ConfigError, match="clock_mhz"):
            ArrayConfig(clock_mhz=clk)


# ---- off-chip bandwidth and batch (hw/cost/memory_bound.py), python -m hw baseline ----------
@pytest.mark.parametrize("cmd", [
    ["network", "--network", "digits-tiny"],
    ["report", "--network", "digits-tiny", "--device", "ecp5-85"],
])
@pytest.mark.parametrize("flags, words", [
    (["--bandwidth-gbs", "0"], ("--bandwidth-gbs", "> 0")),
    (["--bandwidth-gbs", "-1"], ("--bandwidth-gbs",)),
    (["--bandwidth-bpc", "0"], ("--bandwidth-bpc", "> 0")),
    (["--batch", "0"], ("--batch", ">= 1")),
    (["--batch", "2.5"], ("--batch",)),
    (["--bandwidth-gbs", "1", "--bandwidth-bpc", "2"], ("not allowed with",)),
])
def test_bad_bandwidth_and_batch_are_refused(cmd, flags, words, capsys, tmp_path):
    out = ["--out", str(tmp_path / "r")] if cmd[0] == "report" else []
    refused(cmd + flags + out, capsys, *words)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("configs, words", [
    ("8x8", ("--configs", "'8x8'")), ("8x8x64,", ("--configs",)), ("axbxc", ("--configs",)),
    ("", ("--configs",)), ("8x8x12", ("--configs 8x8x12", "simd")),
    ("0x8x64", ("--configs 0x8x64", "rows")),
])
def test_baseline_bad_configs_are_refused(configs, words, capsys, tmp_path):
    refused(["baseline", "--configs", configs, "--json", str(tmp_path / "b.json")], capsys,
            *words)
    assert not (tmp_path / "b.json").exists()


# ---- row 15: hw verilog checks before elaborating --------------------------------------------
def test_row15_verilog_bad_out_fault_and_pool_bits_before_elaboration(tmp_path, capsys,
                                                                      no_elaboration):
    afile = tmp_path / "file"
    afile.write_text("x")
    refused(["verilog", "--out", str(afile)], capsys, "--out", str(afile), "is a file")
    refused(["verilog", "--fault", "bogus", "--out", str(tmp_path / "v")], capsys,
            "--fault 'bogus'", "kpad")
    # a fault of a mechanism the config does not build: its variant would be the correct design
    refused(["verilog", "--fault", "own_late", "--out", str(tmp_path / "v")], capsys,
            "--fault 'own_late'", "does not build", "--loader-regs 1")
    refused(["verilog", "--fault", "w_buffer_swap", "--out", str(tmp_path / "v")], capsys,
            "--fault 'w_buffer_swap'", "--w-buffers 2")
    refused(["verilog", "--pool-bits", "1", "--out", str(tmp_path / "v")], capsys,
            "pool_bits must be an integer >= 2, got 1")
    assert afile.read_text() == "x" and not (tmp_path / "v").exists()


# ---- row 16: bad JSON inputs name their file, leave nothing behind ----------------------------
@pytest.fixture
def bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{\n  nope\n}\n")
    return path


def test_row16_report_bad_coeffs_or_sim_json(tmp_path, coeffs, bad_json, capsys):
    out = tmp_path / "rep"
    refused(_report(out, bad_json), capsys, "--coeffs", str(bad_json), "line 2")
    refused(_report(out, coeffs, "--sim-json", str(bad_json)), capsys, "--sim-json",
            str(bad_json), "line 2")
    not_sim = tmp_path / "not_sim.json"
    not_sim.write_text('{"config": {}}')
    refused(_report(out, coeffs, "--sim-json", str(not_sim)), capsys, str(not_sim),
            "no field 'rows'")
    assert not out.exists()


def test_row16_estimate_dse_network_bad_coeffs(tmp_path, bad_json, capsys):
    refused(["estimate", "--coeffs", str(bad_json)], capsys, str(bad_json), "not valid JSON")
    refused(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
             str(bad_json), "--out", str(tmp_path / "d"), "--quiet"], capsys, str(bad_json))
    refused(["network", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
             str(bad_json)], capsys, str(bad_json))
    not_model = tmp_path / "not_model.json"
    not_model.write_text('{"families": {"ecp5": {"lut": {"features": ["a"], "coef": []}}}}')
    refused(["estimate", "--coeffs", str(not_model)], capsys, str(not_model),
            "not a fitted resource model")
    assert not (tmp_path / "d").exists()


def test_row16_fit_bad_data_lines_name_file_and_line(tmp_path, capsys):
    data = tmp_path / "synth_x.jsonl"
    good = (REPO / "hw" / "synth" / "data" / "synth_ice40.jsonl").read_text().splitlines()
    data.write_text("\n".join(good[:3] + ["{not json"] + good[3:]) + "\n")
    out, table = tmp_path / "model.json", tmp_path / "err.md"
    refused(["fit", "--data", str(tmp_path / "synth_*.jsonl"), "--out", str(out), "--table",
             str(table)], capsys, "--data", str(data), "line 4")
    data.write_text("\n".join(good) + "\n" + good[0][:40])        # torn last line
    refused(["fit", "--data", str(data), "--out", str(out), "--table", str(table)], capsys,
            str(data), f"line {len(good) + 1}", "torn")
    refused(["fit", "--data", str(tmp_path / "none_*.jsonl"), "--out", str(out)], capsys,
            "--data", "no synthesis records")
    assert not out.exists() and not table.exists()


def test_row16_fit_writes_model_and_table_whole_or_not_at_all(tmp_path, capsys, monkeypatch):
    data = REPO / "hw" / "synth" / "data" / "synth_ice40.jsonl"
    out, table = tmp_path / "model.json", tmp_path / "err.md"
    out.write_text("old model")
    table.write_text("old table")

    def broken(rows):
        raise OSError(errno.ENOSPC, "No space left on device", str(table))
    monkeypatch.setattr(resources, "error_table", broken)
    refused(["fit", "--data", str(data), "--out", str(out), "--table", str(table)], capsys,
            "No space left on device", status=1)
    assert out.read_text() == "old model" and table.read_text() == "old table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["err.md", "model.json"]
    monkeypatch.undo()
    assert main(["fit", "--data", str(data), "--out", str(out), "--table", str(table)]) == 0
    assert json.loads(out.read_text())["families"]["ice40"]["lut"]
    assert table.read_text().startswith("# Resource model")


# ---- synthesis records: whole appends, torn tails ---------------------------------------------
def test_sweep_resume_cuts_a_torn_last_record_with_a_warning(tmp_path, capsys):
    from hw.outfiles import append_line, read_jsonl
    from hw.synth.sweep import recorded

    path = tmp_path / "synth_x.jsonl"
    append_line(path, json.dumps({"command": "a", "lut": 1}))
    append_line(path, json.dumps({"command": "b", "error": "yosys failed"}))
    whole = path.read_bytes()
    with open(path, "ab") as fh:                   # what a kill in the middle of a write leaves
        fh.write(b'{"command": "c", "lut"')
    assert recorded(path) == {"a"}
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and str(path) in err and "torn" in err
    assert path.read_bytes() == whole              # cut back to the whole records
    append_line(path, json.dumps({"command": "c", "lut": 3}))
    assert [r["command"] for r in read_jsonl(path)] == ["a", "b", "c"]
    path.write_text('{"command": "a"}\nnot json\n{"command": "b"}\n')   # not a torn tail
    from hw.outfiles import InputFileError
    with pytest.raises(InputFileError, match="line 2"):
        recorded(path)


def test_synth_append_and_sweep_errors_come_before_the_tools(tmp_path, capsys, monkeypatch):
    import hw.synth.flow as flow

    def boom(*a, **k):
        raise AssertionError("the tools started before the inputs were checked")
    monkeypatch.setattr(flow, "synth_config", boom)
    torn = tmp_path / "recs.jsonl"
    torn.write_text('{"command": "a"}\n{"comm')
    refused(["synth", "--device", "ice40-hx8k", "--append", str(torn)], capsys, "--append",
            str(torn), "torn")
    refused(["synth", "--device", "ice40-hx8k", "--keep", str(torn)], capsys, "--keep",
            "is a file")
    refused(["synth", "--sweep", "nope", "--out-dir", str(tmp_path / "s")], capsys,
            "--sweep 'nope'", "ecp5")
    refused(["synth", "--sweep", "ecp5", "--only", "ice40-hx8k", "--out-dir",
             str(tmp_path / "s")], capsys, "--only ice40-hx8k")
    refused(["synth", "--sweep", "ecp5", "--only", "nope", "--out-dir", str(tmp_path / "s")],
            capsys, "unknown device 'nope'")
    refused(["synth", "--sweep", "ecp5", "--jobs", "0"], capsys, "--jobs 0")
    refused(["synth", "--router", "router9"], capsys, "--router", "router9", "router2")
    refused(["synth", "--router", "router2", "--no-pnr"], capsys, "--router", "--no-pnr")
    refused(["synth", "--sweep", "ecp5", "--router", "router2"], capsys, "--router",
            "one config")
    refused(["synth", "--tmg-ripup", "--no-pnr"], capsys, "--tmg-ripup", "--no-pnr")
    refused(["synth", "--sweep", "ecp5", "--tmg-ripup"], capsys, "--tmg-ripup", "one config")
    refused(["synth", "--tmg-ripup", "--router", "router2"], capsys, "--tmg-ripup", "router2")
    assert not (tmp_path / "s").exists()


# ---- error plumbing ---------------------------------------------------------------------------
def test_debug_shows_the_traceback_and_a_bug_is_never_an_error_line(capsys, monkeypatch):
    refused(["config", "--rows", "0"], capsys, "rows must be an integer >= 1")
    with pytest.raises(ConfigError):
        main(["--debug", "config", "--rows", "0"])
    with pytest.raises(ConfigError):
        main(["config", "--rows", "0", "--debug"])
    import hw.cli.show_config as show_config

    def bug(args):
        raise ValueError("a bug")
    monkeypatch.setattr(show_config, "run", bug)
    with pytest.raises(ValueError, match="a bug"):     # not turned into "error: a bug"
        main(["config"])


def test_no_argument_or_unknown_command_is_argparse_exit_2(capsys):
    refused([], capsys, "cmd")
    refused(["bogus"], capsys, "invalid choice: 'bogus'")
    refused(["config", "--rows", "x"], capsys, "--rows", "invalid int value")


def test_exit_statuses_come_from_types_not_message_text():
    import inspect

    import hw.__main__ as hw_main

    src = inspect.getsource(hw_main)
    assert "in str(exc)" not in src and "except ValueError" not in src
    from hw.cost.devices import DeviceFitError, check_fits, get_device
    from hw.cost.dse import DSENoFitError

    with pytest.raises(DeviceFitError):
        check_fits({"lut": 10 ** 9}, get_device("ice40-up5k"))
    assert hw_main.exit_status(DeviceFitError("any text")) == 3
    assert hw_main.exit_status(DSENoFitError("any text")) == 3
    assert hw_main.exit_status(OSError(errno.ENOSPC, "full")) == 1
    assert hw_main.exit_status(OSError(errno.ENOENT, "missing")) is None



def test_kept_weights_are_refused_where_they_do_not_apply(capsys):
    """``--keep-weights``: 0 or 1, only on the core built from parts (the design-space sweep
    included): one line each, naming the flag."""
    refused(["network", "--network", "digits-tiny", "--keep-weights", "2"], capsys,
            "keep_weights must be 0 or 1", "--keep-weights 0")
    refused(["network", "--network", "digits-tiny", "--keep-weights", "1", "--core-parts", "0"],
            capsys, "--core-parts 1", "--keep-weights 0")
    refused(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--keep-weights", "1",
             "--core-parts", "0"], capsys, "--core-parts 1", "--keep-weights 0")


def test_two_weight_buffers_are_refused_where_they_do_not_apply(capsys):
    refused(["network", "--network", "digits-tiny", "--w-buffers", "3"], capsys,
            "w_buffers must be 1 or 2", "--w-buffers 1")
    refused(["network", "--network", "digits-tiny", "--w-buffers", "2", "--core-parts", "0"],
            capsys, "--core-parts 1", "--w-buffers 1")
    refused(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--w-buffers", "2",
             "--core-parts", "0"], capsys, "--core-parts 1", "--w-buffers 1")
