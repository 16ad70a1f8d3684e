"""hw/cost/cycles.py equals the RTL's cycle count exactly (no stalls), over configs x edge shapes,
and every result is bit-exact (cocotb + Icarus on the generated Verilog)."""

import pytest

from hw.config import DEFAULT
from sim.runner import run_jobs
from sim.suite import edge_suite, random_matmul, save_jobs

from sim.suite import small_config as small

CONFIGS = {
    "r2c3s16": small(),
    # pool memory of 5 block-RAM pieces (a partial 4:1 mux group)
    "r3c1s32": small(rows=3, cols=1, simd=32, max_k=64, pool_row_depth=2500, mem_piece_depth=512),
    # activation banks of 5 pieces, weight banks of 1 (read latencies padded to match)
    "r1c4s8": small(rows=1, cols=4, simd=8, max_k=40, max_m=240, mem_piece_depth=256),
    "default": DEFAULT,
}


def assert_exact_on_rtl(cfg, jobs, tmp_path):
    """Run ``jobs`` on the RTL of ``cfg``: every job bit-exact, every output there, and its
    cycles equal to the cycle model's."""
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path))
    assert len(rows) == len(jobs)
    for job, row in zip(jobs, rows):
        assert row["passed"], row
        assert row["mismatches"] == 0 and row["outputs"] == job.result.size
        assert row["cycles"] == job.cycles(cfg), (job.name, row["cycles"], job.cycles(cfg))


def assert_exact_with_stalls(cfg, jobs, tmp_path, seed):
    """:func:`assert_exact_on_rtl`, then the same jobs bit-exact under random input idles,
    output stalls and freezes (``seed``)."""
    paths = save_jobs(jobs, tmp_path / "jobs")
    rows = run_jobs(cfg, paths, build_dir=tmp_path / "b")
    assert len(rows) == len(jobs)
    for job, row in zip(jobs, rows):
        assert row["passed"] and row["mismatches"] == 0, row
        assert row["cycles"] == job.cycles(cfg), (job.name, row["cycles"], job.cycles(cfg))
    stalled = run_jobs(cfg, paths, build_dir=tmp_path / "b", regenerate=False, idle_prob=0.3,
                       stall_prob=0.3, freeze_prob=0.05, freeze_max=40, seed=seed)
    assert all(r["passed"] and r["mismatches"] == 0 for r in stalled), stalled


@pytest.mark.parametrize("name", list(CONFIGS))
def test_cycle_model_matches_rtl(name, tmp_path):
    cfg = CONFIGS[name]
    assert_exact_on_rtl(cfg, edge_suite(cfg, seed=3), tmp_path)


#: hold_banks 3 to 16 (R x C x D x n): small-K matmuls (KW = 1 and 2), where the bank rule
#: binds with two banks (and with 10 on 8 x 4, D = 8: bank_period 11); a 4-bit bank index
#: from 9 banks on; the cycle model's n-bank tile spacing equals the RTL's
HOLD_BANKS = [(2, 2, 1, 3), (3, 5, 3, 3), (4, 4, 2, 4), (3, 5, 1, 4), (8, 4, 8, 10),
              (8, 8, 8, 16)]


def hold_bank_jobs(rows: int, cols: int, simd: int) -> list:
    shapes = [("xnor", 3 * rows, 2 * cols + 1, simd), ("and", 2 * rows + 1, 3 * cols, 5),
              ("xnor", rows + 1, 4 * cols - 1, simd + 3), ("and", 4 * rows - 1, cols + 2, 2 * simd),
              ("xnor", 1, 4 * cols + 1, 1)]
    return [random_matmul(f"banks_{mode}_{m}x{n}x{k}", mode, m, n, k, 70 + i)
            for i, (mode, m, n, k) in enumerate(shapes)]


@pytest.mark.parametrize("rows, cols, drain_rows, banks", HOLD_BANKS,
                         ids=[f"{r}x{c}d{d}h{n}" for r, c, d, n in HOLD_BANKS])
def test_cycle_model_matches_rtl_with_more_hold_banks(rows, cols, drain_rows, banks, tmp_path):
    cfg = small(rows=rows, cols=cols, drain_rows=drain_rows, hold_banks=banks,
                max_m=max(24, 4 * rows), max_n=max(24, 4 * cols + 2))
    assert_exact_on_rtl(cfg, hold_bank_jobs(rows, cols, cfg.simd), tmp_path)


#: R x C x G x D x n: G operand rows per load beat (a beat writes G banks), with the edge suite
#: and shapes of partial row groups; the cycle model's load term equals the RTL's
LOAD_ROWS = [(4, 4, 2, 2, 2), (4, 4, 4, 4, 3), (2, 4, 2, 1, 2), (6, 4, 2, 3, 4)]


@pytest.mark.parametrize("rows, cols, load_rows, drain_rows, banks", LOAD_ROWS,
                         ids=[f"{r}x{c}g{g}d{d}h{n}" for r, c, g, d, n in LOAD_ROWS])
def test_cycle_model_matches_rtl_with_wide_load_beats(rows, cols, load_rows, drain_rows, banks,
                                                      tmp_path):
    cfg = small(rows=rows, cols=cols, load_rows=load_rows, drain_rows=drain_rows,
                hold_banks=banks)
    jobs = edge_suite(cfg, seed=4)
    jobs += [random_matmul(f"g_{mode}_{m}x{n}x{k}", mode, m, n, k, 80 + i)
             for i, (mode, m, n, k) in enumerate([
                 ("xnor", 1, 1, 1), ("and", 2 * rows + 1, 3 * cols - 1, cfg.simd + 3),
                 ("xnor", rows - 1, cols + 1, 2 * cfg.simd), ("and", rows + 1, 1, cfg.simd)])]
    assert_exact_on_rtl(cfg, jobs, tmp_path)
