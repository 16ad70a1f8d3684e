"""Random valid/ready stalls on both sides never lose or duplicate a result."""

import pytest

from sim.runner import run_jobs
from sim.suite import edge_suite, random_matmul, save_jobs

from sim.suite import small_config as small


@pytest.mark.parametrize("idle, stall", [(0.3, 0.5), (0.0, 0.9)])
def test_stalls_bit_exact(idle, stall, tmp_path):
    cfg = small(rows=3, cols=2)
    jobs = edge_suite(cfg, seed=7) + [random_matmul("big", "and", 24, 24, 100, 5)]
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path), seed=11, idle_prob=idle, stall_prob=stall)
    bad = [r for r in rows if not r["passed"]]
    assert not bad, bad
