"""The testbench catches bugs: deliberately broken RTL variants must produce mismatches."""

import numpy as np
import pytest

from hw.rtl.core import FAULTS
from hw.ops import MatmulOp
from sim.runner import run_jobs
from sim.suite import random_matmul, random_pool, save_jobs

from sim.suite import small_config as small

CFG = small(rows=3, cols=2, simd=16, max_k=32)


def fault_jobs():
    """Jobs that expose each fault: K = max_k with A = W (popcount = K: overflows a short
    accumulator), K not a multiple of SIMD (padding), several words per row (skew), a 1x3
    branch pool (window rows of 3 values: the pool unit's row shift register)."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 2, (4, CFG.max_k))
    return [
        MatmulOp.from_bits("a_equals_w_kmax", "xnor", a, a).with_result(),
        random_matmul("kpad_21", "xnor", 5, 4, 21, 3),
        random_matmul("multiword_and", "and", 7, 5, 30, 4),
        random_pool("pool_branch_1x3", (3, 4, 6), 8, (1, 3), (1, 1), (0, 1), 5),
    ]


def test_good_rtl_passes(tmp_path):
    rows = run_jobs(CFG, save_jobs(fault_jobs(), tmp_path))
    assert all(r["passed"] for r in rows), rows


#: faults that only back-pressure or input idles expose (a queue that overflows when its
#: reader waits): run with random input idles and output stalls
STALL_FAULTS = {"queue_drop": dict(idle_prob=0.3, stall_prob=0.3),
                "fifo_overfill": dict(idle_prob=0.1, stall_prob=0.6)}


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
