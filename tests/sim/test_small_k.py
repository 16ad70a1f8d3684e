"""Small-K tiles (one data word per row, KW = 1), where the drain and the hold banks set the
tile spacing: the RTL takes exactly the cycles of hw/cost/cycles.py, back to back, for R x C in
{2x2, 4x4, 3x5} and D (result rows per beat) in {1, 2, R} with two hold banks, and two configs
with three and four; under random stalls every result is
bit-exact and no job is faster than the model (cocotb + Icarus on the generated Verilog)."""

import pytest

from sim.runner import run_jobs
from sim.suite import random_matmul, save_jobs, small_config

#: R x C x D
CONFIGS = [(r, c, d) for r, c in ((2, 2), (4, 4), (3, 5)) for d in sorted({1, 2, r})]


def small_k_jobs(rows: int, cols: int, simd: int) -> list:
    """KW = 1 matmuls: one tile, full and partial tile rows and columns, a one-row last tile
    row, both modes, K from 1 to SIMD."""
    shapes = [("xnor", 1, 1, 1), ("and", rows, cols, simd), ("xnor", 3 * rows, 2 * cols, 5),
              ("and", 2 * rows + 1, 3 * cols + 1, simd - 3), ("xnor", rows + 1, 1, 7),
              ("xnor", 4 * rows - 1, cols + 2, simd), ("and", 2 * rows, 2 * cols + 1, 2)]
    return [random_matmul(f"small_k_{mode}_{m}x{n}x{k}", mode, m, n, k, 50 + i)
            for i, (mode, m, n, k) in enumerate(shapes)]


#: R x C x D x hold_banks: three and four hold banks (more tiles in flight: a deeper FIFO)
MORE_BANKS = [(4, 4, 2, 3), (3, 5, 1, 4)]


@pytest.mark.parametrize("rows, cols, drain_rows, banks",
                         [(r, c, d, 2) for r, c, d in CONFIGS] + MORE_BANKS,
                         ids=[f"{r}x{c}d{d}" for r, c, d in CONFIGS]
                         + [f"{r}x{c}d{d}h{n}" for r, c, d, n in MORE_BANKS])
def test_small_k_tiles_cycle_exact_and_bit_exact_under_stalls(rows, cols, drain_rows, banks,
                                                               tmp_path):
    cfg = small_config(rows=rows, cols=cols, drain_rows=drain_rows, hold_banks=banks)
    jobs = small_k_jobs(rows, cols, cfg.simd)
    paths = save_jobs(jobs, tmp_path / "jobs")
    build = tmp_path / "build"
    rows_exact = run_jobs(cfg, paths, build_dir=build)
    for job, row in zip(jobs, rows_exact):
        assert row["passed"], row
        assert row["cycles"] == job.cycles(cfg), (job.name, row["cycles"], job.cycles(cfg))
    rows_stalled = run_jobs(cfg, paths, build_dir=build, seed=5, idle_prob=0.2,
                            stall_prob=0.4, freeze_prob=0.02, freeze_max=40)
    for job, row in zip(jobs, rows_stalled):
        assert row["passed"], row
        assert row["cycles"] >= job.cycles(cfg), (job.name, row["cycles"], job.cycles(cfg))
