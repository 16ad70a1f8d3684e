"""A pool core of its own (``pool_port`` = 1, :mod:`hw.rtl.pool_core`) beside a matmul-only core,
on the generated Verilog (cocotb + Icarus): every job bit-exact with its cycles equal to
hw/cost/cycles.py on the core it runs on, one job at a time and with both cores at once (then the
two streams of back-to-back jobs end exactly when :func:`hw.cost.cycles.frame_cycles` says), under
stalls, and the pool core's deliberate extra result register caught."""

import pytest

from hw.cost.cycles import frame_cycles
from hw.ops import OpKind
from sim.runner import SimOptionError, run_jobs
from sim.suite import edge_suite, random_matmul, random_pool, save_jobs
from sim.suite import small_config as small

#: L = 2C pool lanes (a position fills both row slots of a result beat), the pool core apart
CFG = small(rows=2, cols=3, pool_lanes=6, pool_max_planes=16, pool_port=1)


def mixed_jobs(cfg, seed):
    """Matmuls and pools in turn, the pools of several plane groups, the last one partial."""
    lanes = cfg.pool_lanes_eff
    return [
        random_matmul("pp_mm_kw3", "xnor", 7, 5, 40, seed),
        random_pool("pp_branch_1x3", (2 * lanes + 1, 4, 7), 8, (1, 3), (1, 1), (0, 1), seed + 1),
        random_matmul("pp_mm_and", "and", 9, 6, 21, seed + 2),
        random_pool("pp_merge_2x2s2", (lanes + 2, 6, 6), 8, (2, 2), (2, 2), (0, 0), seed + 3),
        random_matmul("pp_mm_kw5", "xnor", 3, 8, 70, seed + 4),
        random_pool("pp_sr_3x2s2", (lanes - 1, 7, 5), 8, (3, 2), (2, 2), (1, 1), seed + 5),
    ]


def test_each_core_is_cycle_exact_and_bit_exact_one_job_at_a_time(tmp_path):
    jobs = edge_suite(CFG, seed=5) + mixed_jobs(CFG, 7)
    rows = run_jobs(CFG, save_jobs(jobs, tmp_path))
    assert len(rows) == len(jobs)
    assert {j.kind for j in jobs} == {OpKind.MATMUL, OpKind.POOL}
    for job, row in zip(jobs, rows):
        assert row["passed"] and row["mismatches"] == 0, row
        assert row["cycles"] == job.cycles(CFG), (job.name, row["cycles"], job.cycles(CFG))


def test_both_cores_run_at_once_and_end_when_frame_cycles_says(tmp_path):
    """Matmul jobs on one core and pool jobs on the other, each back to back from the same reset:
    every job keeps its cycles, the streams overlap, and the last result of both comes
    max(sum of matmul cycles, sum of pool cycles) cycles after the first command."""
    jobs = mixed_jobs(CFG, 11)
    rows = run_jobs(CFG, save_jobs(jobs, tmp_path), concurrent=True)
    for job, row in zip(jobs, rows):
        assert row["passed"] and row["mismatches"] == 0, row
        assert row["cycles"] == job.cycles(CFG), (job.name, row["cycles"], job.cycles(CFG))
        assert row["core"] == ("pool_core" if job.kind is OpKind.POOL else "core")
    spans = [r["cycle_span"] for r in rows]
    mm = sum(j.cycles(CFG) for j in jobs if j.kind is OpKind.MATMUL)
    pool = sum(j.cycles(CFG) for j in jobs if j.kind is OpKind.POOL)
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    assert last - first + 1 == frame_cycles(mm, pool, 1) < mm + pool


def test_both_cores_at_once_under_stalls(tmp_path):
    jobs = mixed_jobs(CFG, 13) + edge_suite(CFG, seed=3)[:8]
    rows = run_jobs(CFG, save_jobs(jobs, tmp_path), concurrent=True, idle_prob=0.3,
                    stall_prob=0.3, freeze_prob=0.05, freeze_max=40)
    assert all(r["passed"] and r["mismatches"] == 0 for r in rows), rows


def test_concurrent_needs_the_pool_port(tmp_path):
    paths = save_jobs(mixed_jobs(CFG, 1)[:1], tmp_path)
    with pytest.raises(SimOptionError, match="--pool-port 1"):
        run_jobs(small(rows=2, cols=3), paths, concurrent=True)


def test_pool_core_extra_register_is_caught(tmp_path):
    """The broken pool core (one result register more than the shared core) keeps every result
    but ends each pool job one cycle late: the cycle check catches it; matmuls are unchanged."""
    jobs = mixed_jobs(CFG, 17)
    paths = save_jobs(jobs, tmp_path / "jobs")
    good = run_jobs(CFG, paths, build_dir=tmp_path / "good")
    bad = run_jobs(CFG, paths, build_dir=tmp_path / "bad", fault="pool_core_extra_reg")
    for job, g, b in zip(jobs, good, bad):
        assert g["passed"] and b["passed"], (g, b)
        assert g["cycles"] == job.cycles(CFG)
        late = 1 if job.kind is OpKind.POOL else 0
        assert b["cycles"] == job.cycles(CFG) + late, (job.name, b["cycles"], job.cycles(CFG))
