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


def test_every_command_is_one_module_with_the_interface():
    """``python -m hw`` only assembles hw/cli/<module>.py: docstring (the help), add_arguments,
    run; every command's --help works in-process."""
    import importlib

    from hw.__main__ import COMMANDS, build_parser

    names = [name for name, _ in COMMANDS]
    assert len(set(names)) == len(names)
    for name, module in COMMANDS:
        mod = importlib.import_module(f"hw.cli.{module}")
        assert (mod.__doc__ or "").strip(), module
        assert callable(mod.add_arguments) and callable(mod.run), module
    parser = build_parser()
    for name in names:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0


@pytest.mark.parametrize("args, status, words", [
    (["estimate", "--device", "nope"], 2, "unknown device 'nope'"),
    (["synth", "--device", "nope"], 2, "unknown device 'nope'"),
    (["cycles", "--pool", "2", "8", "8"], 2, "--pool needs --kernel"),
    (["config", "--simd", "12"], 2, "simd"),
])
def test_known_errors_are_one_line_with_their_status(args, status, words, capsys):
    from hw.__main__ import main

    assert main(args) == status
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and len(err.strip().splitlines()) == 1


def test_library_functions_take_their_output_paths():
    """The library never writes into the repository by itself: the output path of every writer
    is a required argument (the commands pass the hw.paths defaults)."""
    import inspect

    from hw.cost.dse import run_dse
    from hw.cost.report import build_report
    from hw.cost.resources import fit_main
    from hw.synth.sweep import run_sweep

    for fn, arg in ((build_report, "out_dir"), (run_dse, "out_dir"), (run_sweep, "out_dir"),
                    (fit_main, "out")):
        assert inspect.signature(fn).parameters[arg].default is inspect.Parameter.empty, fn


def test_report_and_dse_default_to_reports_network(monkeypatch, capsys):
    """Without --out the commands pass reports/<network> (hw.paths.REPORTS_DIR) to the library;
    the report command prints it relative to the repository, as before."""
    from hw import paths
    from hw.__main__ import main
    from hw.cost import dse, report

    seen = {}

    def fake_report(network, cfg, device, *, out_dir, **kw):
        seen["report"] = out_dir
        return {"network": "digits-tiny", "plots": {"cycles": "cycles_breakdown.png"},
                "cost": {"totals": {"cycles": 1, "frames_per_s": 1.0, "utilisation": 1.0}}}

    def fake_dse(network, device, base, *, out_dir, **kw):
        seen["dse"] = out_dir
        raise dse.DSEError("stop here")

    monkeypatch.setattr(report, "build_report", fake_report)
    monkeypatch.setattr(dse, "run_dse", fake_dse)
    assert main(["report", "--network", " Digits-Tiny", "--device", "ecp5-85"]) == 0
    assert seen["report"] == paths.REPORTS_DIR / "digits-tiny"
    assert "wrote reports/digits-tiny/report.md, reports/digits-tiny/report.json, " \
        "reports/digits-tiny/cycles_breakdown.png" in capsys.readouterr().out
    assert main(["dse", "--network", "binaryvit-s", "--device", "ecp5-85"]) == 2
    assert seen["dse"] == paths.REPORTS_DIR / "binaryvit-s"


def test_exit_status_of_the_known_errors():
    """One table in hw/__main__.py, by exception type (never by message text): bad input 2,
    does not fit 3, a tool failed 1, a bug: None (the traceback is kept)."""
    from hw.__main__ import exit_status
    from hw.cli.common import UsageError
    from hw.config import ConfigError
    from hw.cost.devices import DeviceError, DeviceFitError
    from hw.cost.dse import DSEError, DSENoFitError
    from hw.opfile import JobError
    from hw.outfiles import InputFileError, OutputError
    from hw.synth.flow import SynthError

    assert exit_status(ConfigError("simd must be ...")) == 2
    assert exit_status(DeviceError("unknown device 'x'")) == 2
    assert exit_status(DeviceError("config does not fit ice40-up5k")) == 2   # the type decides
    assert exit_status(DeviceFitError("x")) == 3
    assert exit_status(DSEError("no config of the sweep fits ice40-up5k")) == 2
    assert exit_status(DSENoFitError("x")) == 3
    assert exit_status(SynthError("yosys failed")) == 1
    for exc in (JobError("x"), OutputError("x"), InputFileError("x"), UsageError("x")):
        assert exit_status(exc) == 2, exc
    assert exit_status(KeyError("bug")) is None
    assert exit_status(ValueError("a bug, not a user's mistake")) is None


def test_hold_banks_flags_are_checked_before_any_work(capsys, tmp_path):
    """--hold-banks (every config command) and dse's --sweep-hold-banks: a bad value is one
    line naming the flag, exit status 2, nothing written."""
    from hw.__main__ import main

    assert main(["config", "--hold-banks", "1"]) == 2
    assert "hold_banks must be an integer >= 2, got 1; pass --hold-banks" in \
        capsys.readouterr().err
    for vals, msg in ((["2", "17"], "--sweep-hold-banks 17: hold_banks must be <= 16"),
                      (["3", "3"], "--sweep-hold-banks 3 3: a value is repeated")):
        out = tmp_path / "dse"
        assert main(["dse", "--network", "digits-tiny", "--device", "ecp5-85",
                     "--sweep-hold-banks", *vals, "--out", str(out), "--quiet"]) == 2
        assert msg in capsys.readouterr().err
        assert not out.exists()
