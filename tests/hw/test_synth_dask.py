"""Synthesis sweeps on Dask (`python -m hw synth --sweep NAME --scheduler ADDRESS|local`): the
client appends one whole record per config as the tasks finish, skips the configs already
recorded (resumable), writes no record for a task that failed on the cluster (it runs again on
resume), refuses an unreachable scheduler with one line; and (slow) a real iCE40 run of a tiny
config gives the same record as a local run, the tool times aside."""

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hw.config import ArrayConfig
from hw.synth import sweep
from hw.synth.flow import config_command

REPO = Path(__file__).resolve().parents[2]
TINY = dict(max_k=16, max_m=4, max_n=4, pool_bits=8, pool_max_dim=4, pool_max_planes=2,
            pool_max_kernel=2, pool_row_depth=16)
TABLE = {"tiny": [("ice40-hx8k", r, c, 8, dict(TINY), r == 2) for r, c in
                  ((1, 1), (1, 2), (2, 1))]}


@pytest.fixture(scope="module")
def cluster():
    """An in-process LocalCluster (threads): the fake flow below is seen by its workers."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as c:
        yield c.scheduler_address


@pytest.fixture
def fake_flow(monkeypatch):
    """``sweep._one`` without the tools: a record as the flow writes it (command included);
    ``calls`` lists the configs run; a config in ``fail`` raises as a dying task would."""
    calls, fail, lock = [], set(), threading.Lock()

    def one(dev, cfg, held_out, name, reuse=(), tool_timeout=None):
        with lock:
            calls.append((cfg.rows, cfg.cols))
        if (cfg.rows, cfg.cols) in fail:
            raise RuntimeError("worker lost")
        return {"rows": cfg.rows, "cols": cfg.cols, "simd": cfg.simd, "device": dev,
                "lut": 100 * cfg.rows + cfg.cols, "fmax_mhz": 99.5, "config": cfg.to_dict(),
                "command": config_command(cfg, dev), "held_out": held_out,
                "sweep": f"python -m hw synth --sweep {name}"}

    monkeypatch.setattr(sweep, "_one", one)
    return calls, fail


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dask_sweep_appends_every_record_and_resumes(tmp_path, cluster, fake_flow):
    calls, _ = fake_flow
    out = tmp_path / "data"
    assert sweep.run_sweep("tiny", out_dir=out, jobs=2, scheduler=cluster, sweeps=TABLE) == 0
    path = out / "synth_tiny.jsonl"
    recs = _records(path)
    assert sorted((r["rows"], r["cols"]) for r in recs) == [(1, 1), (1, 2), (2, 1)]
    expect = {(r, c): sweep._one(dev, ArrayConfig(rows=r, cols=c, simd=s, **x), h, "tiny")
              for dev, r, c, s, x, h in TABLE["tiny"]}
    for line in path.read_text().splitlines():      # each line exactly as a local run writes it
        rec = json.loads(line)
        assert line == json.dumps(expect[rec["rows"], rec["cols"]])
    calls.clear()
    assert sweep.run_sweep("tiny", out_dir=out, jobs=2, scheduler=cluster, sweeps=TABLE) == 0
    assert calls == [] and _records(path) == recs          # nothing left to run
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])   # a torn last record
    assert sweep.run_sweep("tiny", out_dir=out, jobs=2, scheduler=cluster, sweeps=TABLE) == 0
    assert len(calls) == 1 and sorted(map(json.dumps, _records(path))) == \
        sorted(map(json.dumps, recs))


def test_a_task_that_fails_on_the_cluster_writes_no_record(tmp_path, cluster, fake_flow,
                                                           capsys):
    calls, fail = fake_flow
    fail.add((1, 2))
    out = tmp_path / "data"
    assert sweep.run_sweep("tiny", out_dir=out, jobs=2, scheduler=cluster, sweeps=TABLE) == 1
    err = capsys.readouterr().err
    assert "ice40-hx8k 1x2x8: its task failed on the cluster (RuntimeError: worker lost)" in err
    assert sorted((r["rows"], r["cols"]) for r in _records(out / "synth_tiny.jsonl")) == \
        [(1, 1), (2, 1)]
    assert calls.count((1, 2)) == 2                    # retried once, then reported
    fail.clear()
    calls.clear()
    assert sweep.run_sweep("tiny", out_dir=out, jobs=2, scheduler=cluster, sweeps=TABLE) == 0
    assert calls == [(1, 2)] and len(_records(out / "synth_tiny.jsonl")) == 3


def test_cli_refuses_an_unreachable_scheduler_and_scheduler_without_sweep(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    out = tmp_path / "s"
    p = subprocess.run([sys.executable, "-m", "hw", "synth", "--sweep", "ice40", "--scheduler",
                        f"127.0.0.1:{port}", "--connect-timeout", "2", "--out-dir", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.startswith("error: --scheduler tcp://127.0.0.1:")
    assert len(p.stderr.strip().splitlines()) == 1 and not out.exists()
    p = subprocess.run([sys.executable, "-m", "hw", "synth", "--scheduler", "local"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--scheduler goes with --sweep" in p.stderr


@pytest.mark.slow
def test_dask_records_equal_a_local_run_on_ice40(tmp_path):
    """One tiny config through the real tools twice: local processes, then a local Dask
    cluster; the two records are equal but for the tools' wall times (about 90 s)."""
    table = {"tiny": TABLE["tiny"][:1]}
    assert sweep.run_sweep("tiny", out_dir=tmp_path / "local", jobs=1, sweeps=table) == 0
    assert sweep.run_sweep("tiny", out_dir=tmp_path / "dask", jobs=1, sweeps=table,
                           scheduler="local") == 0
    a, = _records(tmp_path / "local" / "synth_tiny.jsonl")
    b, = _records(tmp_path / "dask" / "synth_tiny.jsonl")
    assert a.pop("seconds") and b.pop("seconds")
    assert a == b and a["fmax_mhz"] and a["lut"] > 0
