"""Kept weights on the generated Verilog (cocotb + Icarus): the testbench keeps a layer's weights
across its M chunks where the host rule allows (:func:`hw.ops.keep_flags`), each kept job is
bit-exact and takes the model's cycles without the W load, also beside a pool core and under
random stalls, and the loader's ``keep_clears_n_l`` fault is caught."""

from dataclasses import replace

from hw.ops import keep_flags
from hw.rtl.formats import core_of
from sim.runner import run_jobs
from sim.suite import random_pool, save_jobs

from tests.hw.rtl.test_keep_weights import BASE, layer_chunks


def jobs_with_a_pool():
    jobs = layer_chunks(BASE)
    pool = random_pool("pool_mid", (2, 4, 4), 8, (2, 2), (2, 2), (0, 0), 6)
    return jobs[:2] + [pool] + jobs[2:]


def test_kept_weights_are_exact_with_the_modelled_cycles_on_the_rtl(tmp_path):
    for cfg in (BASE, replace(BASE, pool_port=1)):
        jobs = jobs_with_a_pool()
        keeps = keep_flags(cfg, jobs, lambda j: core_of(cfg, j))
        # on one core the pool ends the first layer's chain; beside a pool core it does not
        assert keeps == ([False, True, False, False, False, True] if not cfg.pool_port
                         else [False, True, False, True, False, True])
        rows = run_jobs(cfg, save_jobs(jobs, tmp_path / cfg.tag))
        assert len(rows) == len(jobs)
        for job, keep, row in zip(jobs, keeps, rows):
            assert row["passed"] and row["outputs"] == job.result.size, row
            assert row.get("keep_w", False) == keep, (job.name, row)
            assert row["cycles"] == job.cycles(cfg, keep), (job.name, row["cycles"])


def test_kept_weights_are_exact_under_stalls(tmp_path):
    jobs = layer_chunks(BASE)
    rows = run_jobs(BASE, save_jobs(jobs, tmp_path), idle_prob=0.3, stall_prob=0.3,
                    freeze_prob=0.02, freeze_max=30, seed=3)
    assert all(r["passed"] for r in rows), [r for r in rows if not r["passed"]]
    assert [r.get("keep_w", False) for r in rows] == keep_flags(BASE, jobs)


def test_the_kept_last_column_fault_is_caught_on_the_rtl(tmp_path):
    rows = run_jobs(BASE, save_jobs(layer_chunks(BASE), tmp_path), fault="keep_clears_n_l",
                    expect_fail=True)
    assert rows[0]["passed"] and rows[0]["mismatches"] == 0, rows[0]
    assert sum(r["mismatches"] for r in rows) > 0, rows
