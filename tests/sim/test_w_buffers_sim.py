"""Two weight buffers on the generated Verilog (cocotb + Icarus): matmul jobs streamed into the
core (every command and data beat offered as early as the core takes it), each bit-exact, each
job's command cycle and last-result cycle the sequence model's; one weight buffer takes the
model's cycles too; the ``w_buffer_swap`` fault is caught."""

from dataclasses import replace

from hw.cost.sequence import sequence_times
from sim.runner import run_jobs
from sim.suite import save_jobs

from tests.hw.rtl.test_w_buffers import CONFIGS, random_jobs


def assert_rtl_streams_as_modelled(cfg, jobs, tmp_path) -> list:
    """``jobs`` streamed into ``cfg``'s generated Verilog: every job bit-exact, its command and
    last-result cycles the sequence model's; returns the model's times."""
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path / "jobs"), streamed=True,
                    build_dir=tmp_path / "build")
    want = sequence_times(cfg, [(j.m, j.n, j.k) for j in jobs])
    assert all(r["passed"] for r in rows), rows
    assert [r["cycle_span"] for r in rows] == [[t.command, t.last_result] for t in want]
    return want


def test_streamed_jobs_on_the_rtl_take_the_sequence_models_cycles(tmp_path):
    for buffers in (1, 2):
        cfg = replace(CONFIGS["4x2_g2_h3_d1"], w_buffers=buffers)
        want = assert_rtl_streams_as_modelled(cfg, random_jobs(cfg, 6, 40 + buffers),
                                              tmp_path / str(buffers))
        assert any(t.w_hidden for t in want) == (buffers == 2)


def test_the_weight_buffer_swap_is_caught_on_the_rtl(tmp_path):
    cfg = replace(CONFIGS["2x3x16"], w_buffers=2)
    rows = run_jobs(cfg, save_jobs(random_jobs(cfg, 4, 5), tmp_path), streamed=True,
                    fault="w_buffer_swap", expect_fail=True)
    assert sum(r["mismatches"] for r in rows) > 0, rows
