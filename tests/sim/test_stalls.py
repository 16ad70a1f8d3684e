"""Random valid/ready stalls on both sides never lose or duplicate a result."""

import pytest

from sim.runner import run_jobs
from sim.suite import edge_suite, random_matmul, save_jobs

from sim.suite import small_config as small


@pytest.mark.parametrize("idle, stall, freeze_prob, freeze_max",
                         [(0.3, 0.5, 0, 0), (0.0, 0.9, 0, 0), (0.2, 0.3, 0.01, 80)])
def test_stalls_bit_exact(idle, stall, freeze_prob, freeze_max, tmp_path):
    cfg = small(rows=3, cols=2)
    jobs = edge_suite(cfg, seed=7) + [random_matmul("big", "and", 24, 24, 100, 5)]
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path), seed=11, idle_prob=idle, stall_prob=stall,
                    freeze_prob=freeze_prob, freeze_max=freeze_max)
    bad = [r for r in rows if not r["passed"]]
    assert not bad, bad
    # stalls never speed a job up; a freeze holds the first result 40..80 cycles
    assert all(r["cycles"] >= job.cycles(cfg) for r, job in zip(rows, jobs)), rows
    if freeze_max:
        assert all(r["frozen_cycles"] >= freeze_max // 2 for r in rows), rows
