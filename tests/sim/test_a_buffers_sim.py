"""Two activation buffers on the generated Verilog (cocotb + Icarus): matmul jobs streamed into
the core, each bit-exact, each job's command cycle and last-result cycle the sequence model's,
over sequences in which jobs run with their A rows all loaded ahead, partly loaded, or their
W still loading (:func:`tests.hw.rtl.test_a_buffers.ahead_cases`); the ``a_buffer_swap``
fault is caught."""

from sim.runner import run_jobs
from sim.suite import save_jobs

from tests.hw.rtl.test_a_buffers import SEEDS, ahead_cases, two_a
from tests.hw.rtl.test_w_buffers import random_jobs
from tests.sim.test_w_buffers_sim import assert_rtl_streams_as_modelled


def test_streamed_jobs_on_the_rtl_take_the_sequence_models_cycles(tmp_path):
    seen = set()
    for name, seed, fields in (("3x2_h4_d3", 8, {}), ("3x2_h4_d3", 12, {}),
                               ("4x2_g2_h3_d1", 29, {"ctl_regs": 1, "loader_regs": 2})):
        cfg = two_a(name, **fields)
        jobs = random_jobs(cfg, 6, seed)
        assert_rtl_streams_as_modelled(cfg, jobs, tmp_path / f"{name}_{seed}")
        seen.update(ahead_cases(cfg, [(j.m, j.n, j.k) for j in jobs]))
    assert {"w_loading", "a_in", "a_at_run", "first_at_run", "first_later"} <= seen, seen


def test_the_activation_buffer_swap_is_caught_on_the_rtl(tmp_path):
    cfg = two_a("2x3x16")
    rows = run_jobs(cfg, save_jobs(random_jobs(cfg, 4, SEEDS["2x3x16"][0]), tmp_path),
                    streamed=True, fault="a_buffer_swap", expect_fail=True)
    assert sum(r["mismatches"] for r in rows) > 0, rows
