"""`python -m sim all` checks everything it claims: a cycle difference fails the run and says so
on the row, random bits past K reach the hardware (and a design that counts them is caught only
with them), a stall run's failures fail the job."""

import numpy as np
import pytest

import sim.__main__ as sim_cli
from hw.config import ceil_div
from hw.ops import MatmulOp, OpKind, PoolOp
from hw.rtl.formats import job_words
from sim.runner import run_jobs
from sim.suite import random_matmul, random_pool, save_jobs, small_config

CFG = small_config(rows=3, cols=2, simd=16, max_k=32)     # the config of test_faults.py
ARGS = [x for name, v in small_config().to_dict().items()
        for x in (f"--{name.replace('_', '-')}", str(v))]


def write_golden(directory):
    """A manifest + three job files in the exporter's layout."""
    from hw.opfile import write_manifest

    jobs = [random_matmul("blk.fc", "xnor", 9, 7, 45, 1),
            random_matmul("blk.context", "and", 5, 11, 16, 2),
            random_pool("blk.pool_h3", (3, 4, 5), 8, (3, 1), (1, 1), (1, 0), 3)]
    ops = []
    for i, job in enumerate(jobs):
        job.save(directory / f"{i:04d}.npz")
        ops.append({"name": job.name, "kind": job.kind.value, "file": f"{i:04d}.npz"})
    write_manifest(directory, ops)


def test_cycle_difference_fails_the_run_and_the_row_says_so(tmp_path, monkeypatch, capsys):
    """A design one cycle early on every job looks, to the checker, like a model one cycle
    late: the run must exit 1 and every row must name the difference."""
    write_golden(tmp_path)
    for cls in (MatmulOp, PoolOp):
        true_model = cls.cycles
        monkeypatch.setattr(cls, "cycles", lambda self, cfg, f=true_model: f(self, cfg) + 1)
    rc = sim_cli.main(["all", "--golden", str(tmp_path), "--no-random", "--no-stalls", *ARGS])
    out = capsys.readouterr().out
    assert rc == 1, out
    rows = [line for line in out.splitlines() if line.startswith("blk.")]
    assert len(rows) == 3 and all("DIFF" in r and "FAIL: cycles -1 vs model" in r for r in rows), out
    assert "cycles: 0 of 3 jobs equal the model exactly" in out
    assert "0 passed, 3 failed" in out


def _row(**kw):
    base = {"op": "j", "kind": "matmul", "shape": {"m": 1, "n": 1, "k": 1}, "outputs": 1,
            "mismatches": 0, "cycles": 30, "error": None, "passed": True}
    return base | kw


@pytest.mark.parametrize("row, stall, want", [
    (_row(), _row(cycles=90), []),
    (_row(cycles=31), _row(cycles=90), ["cycles +1 vs model"]),
    (_row(cycles=None, error="no tlast", passed=False), _row(cycles=90),
     ["0 mismatches (no tlast)", "no cycle count"]),
    (_row(), _row(mismatches=2, passed=False), ["stalls: 2 mismatches"]),
    (_row(), _row(cycles=29), ["stalls: 29 cycles, below the no-stall model"]),
    (_row(mismatches=1, passed=False), _row(cycles=None, mismatches=1, error="got 0 result "
                                             "beats", passed=False),
     ["1 mismatches", "stalls: 1 mismatches (got 0 result beats)"]),
])
def test_judge_names_every_failure(row, stall, want):
    rows = [row]
    sim_cli.judge(rows, [30], [stall])
    assert rows[0]["failures"] == want
    assert rows[0]["passed"] is (not want)


def test_random_padding_bits_reach_the_data_beats():
    """Bits past K (pool: lanes of planes past P) are random with a generator, zero without;
    the true bits and the default beats are unchanged."""
    mm = random_matmul("mm", "and", 5, 3, 21, 1)            # K = 21: 11 padding bits per row
    lanes, bits = CFG.pool_lanes_eff, CFG.pool_bits
    assert lanes == 2 and CFG.data_width == 16
    # P = 3: the second plane group's lane 1 is past P
    pool = random_pool("p", (3, 3, 5), bits, (1, 1), (1, 1), (0, 0), 2)
    for job in (mm, pool):
        zero = job_words(CFG, job)
        rand = job_words(CFG, job, np.random.default_rng(0))
        assert zero == job_words(CFG, job, None) and len(rand) == len(zero)
        if job.kind is OpKind.MATMUL:
            per_row, keep = ceil_div(job.k, CFG.simd), (1 << 5) - 1
            padded = list(range(per_row - 1, len(zero), per_row))
        else:
            keep = (1 << bits) - 1                           # lane 0 of the last group
            padded = list(range(len(zero) // 2, len(zero)))
        assert [w for i, w in enumerate(zero) if i not in padded] == \
               [w for i, w in enumerate(rand) if i not in padded]
        assert [zero[i] & keep for i in padded] == [rand[i] & keep for i in padded]
        assert all(zero[i] & ~keep == 0 for i in padded)
        assert sum(rand[i] & ~keep != 0 for i in padded) >= len(padded) // 2


def test_kpad_fault_caught_only_with_random_padding(tmp_path):
    """The `kpad` design (the mask of bits past K removed) gives the right AND-mode results when
    the padding is zero, so only random padding bits expose it; the good design ignores them."""
    jobs = [random_matmul("and_k21", "and", 5, 4, 21, 3),
            random_matmul("and_k30", "and", 7, 3, 30, 4)]
    paths = save_jobs(jobs, tmp_path)
    zero = run_jobs(CFG, paths, fault="kpad", pad="zero", expect_fail=True)
    assert all(r["mismatches"] == 0 for r in zero), zero
    rand = run_jobs(CFG, paths, fault="kpad", pad="random", expect_fail=True)
    assert all(r["mismatches"] > 0 for r in rand), rand
    good = run_jobs(CFG, paths, pad="random")
    assert all(r["passed"] for r in good), good


def test_stall_run_reports_data_faults(tmp_path):
    """The stall run alone (no cycle check) still catches a wrong design."""
    paths = save_jobs([random_matmul("xnor_mw", "xnor", 7, 5, 30, 4)], tmp_path)
    rows = run_jobs(CFG, paths, fault="skew", expect_fail=True, seed=2, idle_prob=0.2,
                    stall_prob=0.3, freeze_prob=0.01, freeze_max=60)
    assert rows[0]["mismatches"] > 0 and rows[0]["frozen_cycles"] > 0, rows
