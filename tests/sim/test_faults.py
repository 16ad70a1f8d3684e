"""The testbench catches bugs: deliberately broken RTL variants must produce mismatches."""

import pytest

from hw.rtl.core import FAULTS
from sim.runner import run_jobs
from sim.suite import STALL_FAULTS, fault_jobs as suite_fault_jobs, random_matmul, save_jobs

from sim.suite import small_config as small

CFG = small(rows=3, cols=2, simd=16, max_k=32)


def fault_jobs():
    return suite_fault_jobs(CFG.max_k)


def test_good_rtl_passes(tmp_path):
    rows = run_jobs(CFG, save_jobs(fault_jobs(), tmp_path))
    assert all(r["passed"] for r in rows), rows


#: faults of a mechanism the 3 x 2 config does not have, each with its own test below
OWN_CONFIG = ("load_slot_rotated", "pool_core_extra_reg")   # the latter: test_pool_port.py


@pytest.mark.parametrize("fault", [f for f in FAULTS if f not in OWN_CONFIG])
def test_broken_variant_is_caught(fault, tmp_path):
    rows = run_jobs(CFG, save_jobs(fault_jobs(), tmp_path), fault=fault, expect_fail=True,
                    **STALL_FAULTS.get(fault, {}))
    assert sum(r["mismatches"] for r in rows) > 0, (fault, rows)


def test_good_rtl_passes_with_the_stall_faults_stalls(tmp_path):
    for fault, stalls in STALL_FAULTS.items():
        rows = run_jobs(CFG, save_jobs(fault_jobs(), tmp_path / fault), **stalls)
        assert all(r["passed"] for r in rows), (fault, rows)


def good_passes_and_fault_is_caught(cfg, jobs, fault, tmp_path):
    """The good RTL of ``cfg`` passes ``jobs``; the variant with ``fault`` mismatches."""
    paths = save_jobs(jobs, tmp_path / "jobs")
    good = run_jobs(cfg, paths, build_dir=tmp_path / "good")
    assert all(r["passed"] for r in good), good
    bad = run_jobs(cfg, paths, build_dir=tmp_path / "bad", fault=fault, expect_fail=True)
    assert sum(r["mismatches"] for r in bad) > 0, bad


def test_hold_swap_is_caught_with_three_hold_banks(tmp_path):
    """hold_banks = 3: the good RTL passes, and capturing each tile into bank + 1 mod 3 is
    caught (jobs of several tiles, so that a later tile overwrites a bank still to drain)."""
    cfg = small(rows=3, cols=2, simd=16, max_k=32, hold_banks=3)
    jobs = [random_matmul("banks3_kw1", "xnor", 7, 9, 12, 6),
            random_matmul("banks3_kw2", "and", 8, 7, 30, 7)]
    good_passes_and_fault_is_caught(cfg, jobs, "hold_swap", tmp_path)


def test_load_slot_rotation_is_caught_with_two_rows_per_load_beat(tmp_path):
    """load_rows = 2: the good RTL passes, and writing each bank the word of the beat's other
    row slot is caught."""
    cfg = small(rows=4, cols=2, simd=16, max_k=32, load_rows=2)
    jobs = [random_matmul("g2_kw1", "xnor", 7, 5, 12, 8),
            random_matmul("g2_kw2", "and", 5, 3, 30, 9)]
    good_passes_and_fault_is_caught(cfg, jobs, "load_slot_rotated", tmp_path)
