"""The loader's own job values (``loader_regs`` 1, and 2: the bank writes' own run flag) on
the generated Verilog (cocotb + Icarus): the throughput config's kind of core (ten hold banks,
D = R = 8, wide load beats, a pool core of its own, ``ctl_regs`` and ``pe_flag_regs``) and a
core with its pool unit inside, every job bit-exact with the cycle model's cycles, also under
random stalls; matmuls streamed into the core take the sequence model's cycles with one and
two weight buffers; the deliberate ``own_late`` and ``split_late`` are caught."""

import pytest

from dataclasses import replace

from sim.runner import run_jobs
from sim.suite import edge_suite, save_jobs
from sim.suite import small_config as small

from tests.hw.rtl.test_w_buffers import CONFIGS, random_jobs
from tests.sim.test_cycles import assert_exact_on_rtl, assert_exact_with_stalls, hold_bank_jobs
from tests.sim.test_pool_port import mixed_jobs
from tests.sim.test_w_buffers_sim import assert_rtl_streams_as_modelled


@pytest.mark.parametrize("level", [1, 2])
def test_ten_hold_banks_with_wide_beats_are_exact(tmp_path, level):
    cfg = small(rows=8, cols=4, drain_rows=8, hold_banks=10, load_rows=4, pool_port=1,
                max_m=32, max_n=24, ctl_regs=1, pe_flag_regs=1, loader_regs=level)
    assert_exact_on_rtl(cfg, hold_bank_jobs(8, 4, cfg.simd), tmp_path)


@pytest.mark.parametrize("level", [1, 2])
def test_matmuls_and_pools_on_one_core_are_exact_under_stalls(tmp_path, level):
    cfg = small(rows=2, cols=3, pool_lanes=6, pool_max_planes=16, loader_regs=level)
    assert_exact_with_stalls(cfg, edge_suite(cfg, seed=11) + mixed_jobs(cfg, 23), tmp_path, 6)


@pytest.mark.parametrize("level, fault", [(1, "own_late"), (2, "split_late")])
def test_streamed_jobs_take_the_sequence_models_cycles_and_the_fault_is_caught(tmp_path, level,
                                                                                fault):
    for buffers in (1, 2):
        cfg = replace(CONFIGS["4x2_g2_h3_d1"], w_buffers=buffers, ctl_regs=1, loader_regs=level)
        assert_rtl_streams_as_modelled(cfg, random_jobs(cfg, 6, 80 + buffers),
                                       tmp_path / str(buffers))
    cfg = replace(CONFIGS["4x2_g2_h3_d1"], loader_regs=level)
    jobs = random_jobs(cfg, 5, 7)
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path / "late"), streamed=True,
                    build_dir=tmp_path / "late_b", fault=fault, expect_fail=True)
    assert any(r["mismatches"] > 0 or not r["passed"] for r in rows), rows
