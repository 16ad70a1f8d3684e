"""`python -m sim regress` (sim/regress.py): deterministic jobs biased onto every corner, the
command line's refusals (bad spec, bad ids, an unreachable or silent scheduler: one line, exit
2, within the timeout), and a broken variant on a local cluster: exit 1, every failure printed
with the command that reproduces it (which does), a config that does not elaborate named while
the other config still runs, every job id in the results JSON."""

import json
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hw.config import ConfigError
from sim.regress import (DEFAULT_CONFIGS, PROFILES, Regression, config_of, job_profile, make_job,
                         parse_ids, parse_spec, repro_command, spec_of)

REPO = Path(__file__).resolve().parents[2]


def _cli(*argv, timeout=300):
    return subprocess.run([sys.executable, "-m", "sim", "regress", *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_specs_round_trip_and_bad_specs_are_refused():
    for spec in DEFAULT_CONFIGS:
        assert spec_of(config_of(spec)) == spec
    assert parse_spec("2x3x16:max_k=64")["max_k"] == 64
    with pytest.raises(ConfigError, match="PE bits"):
        config_of("40x40x64")                  # valid fields, does not elaborate
    for bad in ("2y3", "2x3x16:nope=1", "2x3x16:max_k=x", "2x3x16:rows=4"):
        with pytest.raises(ValueError, match="--configs"):
            parse_spec(bad)
    assert parse_ids("3,7-9,3") == [3, 7, 8, 9]
    for bad in ("x", "5-2", ""):
        with pytest.raises(ValueError, match="--job-ids"):
            parse_ids(bad)


def test_jobs_are_deterministic_legal_and_reach_every_shape_bin():
    """A job depends only on (config, seed, id); every job is legal on its config; over the
    default configs the generator reaches every shape and pool bin of sim.coverage and every
    stall profile."""
    from sim import coverage

    hit, profiles = set(), set()
    for spec in DEFAULT_CONFIGS:
        cfg = config_of(spec)
        for j in range(250):
            job, meta = make_job(cfg, 7, j)
            job.check(cfg)
            hit.update(coverage.shape_bins(cfg, job))
            profiles.add(job_profile(7, j))
        again, _ = make_job(cfg, 7, 11)
        first, _ = make_job(cfg, 7, 11)
        assert again == first and again.name == first.name
        assert (again.a_bits == first.a_bits).all() if again.kind.value == "matmul" else \
            (again.x == first.x).all()
    shape_bins = {b for b in coverage.ALL_BINS
                  if b.split(":")[0] in ("mode", "k_mod_simd", "m_mod_r", "n_mod_c", "tiles_m",
                                         "tiles_n", "tiles_k", "k", "pool")}
    assert shape_bins - hit == set()
    assert profiles == set(PROFILES)


def test_repro_command_names_config_ids_seed_and_runs_locally():
    reg = Regression(specs=["2x3x16"], ids=[5], seed=9, simulator="icarus", fault="xor")
    cmd = repro_command(reg, "3x2x16:pool_bits=4", [5])
    assert shlex.split(cmd) == ["python", "-m", "sim", "regress", "--configs",
                                "3x2x16:pool_bits=4", "--job-ids", "5", "--seed", "9",
                                "--simulator", "icarus", "--fault", "xor", "--local"]


@pytest.mark.parametrize("argv, words", [
    (["--configs", "2y3"], "--configs '2y3' is not a config spec"),
    (["--job-ids", "9-3"], "--job-ids"),
    (["--jobs", "0"], "--jobs 0"),
    (["--chunk", "0"], "--chunk 0"),
    (["--local", "--scheduler", "127.0.0.1:8786"], "--local runs without Dask"),
    (["--scheduler", "tcp://host:99999"], "port in 1..65535"),
    (["--fault", "nope"], "nope"),
])
def test_bad_flags_are_one_line_exit_2(argv, words, capsys, tmp_path):
    from sim.__main__ import main

    assert main(["regress", "--json", str(tmp_path / "r.json"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and "\n" not in err, err
    assert not (tmp_path / "r.json").exists()


def test_unreachable_and_silent_schedulers_are_refused_within_the_timeout(tmp_path):
    """Nothing listens: refused at once. A server that accepts and never speaks (the Dask
    client would wait for it forever): refused after --connect-timeout."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    t0 = time.time()
    p = _cli("--jobs", "2", "--scheduler", f"127.0.0.1:{port}", "--connect-timeout", "2",
             "--json", str(tmp_path / "r.json"), timeout=60)
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --scheduler") and "dask scheduler" in err[0]
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        p = _cli("--jobs", "2", "--scheduler", f"127.0.0.1:{silent.getsockname()[1]}",
                 "--connect-timeout", "2", "--json", str(tmp_path / "r.json"), timeout=60)
    assert p.returncode == 2, p.stderr
    assert "not a Dask scheduler" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert time.time() - t0 < 40
    assert not (tmp_path / "r.json").exists()


def test_broken_variant_fails_with_reproducing_commands_and_a_bad_config_is_named(tmp_path):
    """--fault xor on a local cluster of one worker: exit 1; each failing job printed with its
    command, which reproduces the failure alone; the non-elaborating second config is named in
    an error line, its jobs are rows marked not run, the first config's jobs all ran."""
    exact = [j for j in range(0, 200, 2) if job_profile(1, j) == "exact"][:6]  # even: config 1
    odd = [j for j in range(1, 200, 2)][:2]
    out = tmp_path / "r.json"
    p = _cli("--configs", "2x3x16", "40x40x64", "--job-ids", ",".join(map(str, exact + odd)),
             "--fault", "xor", "--workers", "1", "--recheck", "1", "--no-progress",
             "--json", str(out))
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"error: config 40x40x64: .*PE bits", p.stderr), p.stderr
    fails = re.findall(r"FAIL job (\d+) .*\n  reproduce: (.*?)(?:  \(|$)", p.stdout, re.M)
    assert fails, p.stdout
    data = json.loads(out.read_text())
    rows = {r["job"]: r for r in data["rows"]}
    assert sorted(rows) == sorted(exact + odd)
    assert all(rows[j].get("not_run") for j in odd)
    assert all(not rows[j].get("not_run") for j in exact)
    assert {int(j) for j, _ in fails} == {j for j in exact if not rows[j]["passed"]}
    assert rows[int(fails[0][0])]["recheck"]["passed"] is False      # rechecked: fails alone
    assert Path(f"{out.with_suffix('')}.coverage.txt").read_text().startswith("coverage")
    # the printed command, run as printed (here), fails the same job the same way
    job, cmd = fails[0]
    argv = shlex.split(cmd)
    assert argv[:4] == ["python", "-m", "sim", "regress"] and "--local" in argv
    p2 = _cli(*argv[4:], "--json", str(tmp_path / "again.json"), "--no-progress")
    assert p2.returncode == 1 and f"FAIL job {job} " in p2.stdout, p2.stdout + p2.stderr
    again = json.loads((tmp_path / "again.json").read_text())["rows"][0]
    assert again["mismatches"] > 0 and again["shape"] == rows[int(job)]["shape"]


def test_found_by_the_options_regression_a_pool_job_under_stalls_loses_no_output(tmp_path):
    """Job 5 of seed 1 on 4x4x32 with D = 4, four hold banks and L = 16 pool lanes (a 1x1 pool
    under output stalls) lost one output when the pool unit's in-flight count saw an issue
    two registers late but an output only one late (its credit margin assumes both late
    alike): the FIFO overflowed by one entry. Bit-exact now."""
    spec = "4x4x32:max_k=256,drain_rows=4,hold_banks=4,pool_lanes=16"
    p = _cli("--configs", spec, "--job-ids", "5", "--seed", "1", "--local", "--no-progress",
             "--json", str(tmp_path / "r.json"))
    assert p.returncode == 0, p.stdout + p.stderr
    row = json.loads((tmp_path / "r.json").read_text())["rows"][0]
    assert row["passed"] and row["kind"] == "pool", row
