"""The command ``ready`` from a flip-flop of its own (``ctl_regs`` 1, job control's IDLE
register): on the composed core in Amaranth's simulator, matmul sequences streamed as early as
the core takes them are bit-exact and take the sequence model's cycles, with one and with two
weight buffers, as with ``ctl_regs`` 0; the deliberate ``idle_late`` (the flip-flop set a cycle
late) keeps the results and is caught by the cycles. ``ctl_regs`` 2 (copies of the AND-mode
flag per result column and of the loader's W flag for its padding) likewise, and its
``and_copy_stuck`` (the copies never updated) caught by the results. The config field's checks
too."""

from dataclasses import replace

import pytest

from hw.config import ArrayConfig, ConfigError
from hw.cost.sequence import sequence_times
from hw.rtl.formats import decode_results

from tests.hw.rtl.test_w_buffers import (CONFIGS, assert_streams_as_modelled, random_jobs,
                                         stream)


def exact(cfg, jobs, beats) -> bool:
    return all((decode_results(cfg, j, got) == j.golden()).all() for j, got in zip(jobs, beats))


@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize("buffers", [1, 2])
@pytest.mark.parametrize("name", ["2x3x16", "4x2_g2_h3_d1", "2x3_pool_port"])
def test_streamed_jobs_are_exact_and_take_the_sequence_models_cycles(name, buffers, level):
    cfg = replace(CONFIGS[name], w_buffers=buffers, ctl_regs=level)
    assert_streams_as_modelled(cfg, [100 + buffers, 110 + buffers])


def test_idle_late_is_caught_by_the_cycles():
    """Each command after the first is taken one cycle later than the model says; the results
    stay exact, so only the cycle check catches it. (With two weight buffers a streamed matmul
    is taken ahead, not in IDLE.)"""
    cfg = replace(CONFIGS["2x3x16"], ctl_regs=1)
    jobs = random_jobs(cfg, 4, 7)
    want = [t.command for t in sequence_times(cfg, [(j.m, j.n, j.k) for j in jobs])]
    good = stream(cfg, jobs)
    bad = stream(cfg, jobs, fault="idle_late")
    assert good[0] == want and exact(cfg, jobs, good[2])
    assert bad[0] != want and exact(cfg, jobs, bad[2])
    assert bad[0][0] == want[0]                 # the first is taken from reset: not late


def test_stuck_and_copies_are_caught_by_the_results():
    """``and_copy_stuck``: the AND-mode jobs come out as XNOR's; the XNOR jobs stay exact."""
    cfg = replace(CONFIGS["4x2_g2_h3_d1"], ctl_regs=2)
    jobs = random_jobs(cfg, 6, 1)
    _, _, beats = stream(cfg, jobs, fault="and_copy_stuck")
    wrong = {j.name for j, got in zip(jobs, beats)
             if not (decode_results(cfg, j, got) == j.golden()).all()}
    assert wrong == {j.name for j in jobs if j.mode == "and"} != set()


def test_the_config_field():
    base = CONFIGS["2x3x16"]
    q = replace(base, ctl_regs=1)
    assert q.tag.endswith("q") and "ctl_regs" not in base.to_dict()
    assert ArrayConfig.from_dict(q.to_dict()) == q
    assert ArrayConfig.from_dict(base.to_dict()).ctl_regs == 0
    assert replace(base, ctl_regs=2).tag == base.tag + "q2"
    with pytest.raises(ConfigError, match="ctl_regs must be 0, 1 or 2, got 3"):
        replace(base, ctl_regs=3)
    with pytest.raises(ConfigError, match="--core-parts 1 or --ctl-regs 0"):
        replace(base, ctl_regs=1, core_parts=0)


def test_the_copies_are_kept_apart_only_at_level_two():
    from hw.rtl.verilog import generate

    cfg = replace(CONFIGS["4x2_g2_h3_d1"], ctl_regs=1)
    one, two = generate(cfg), generate(replace(cfg, ctl_regs=2))
    keep = "(* keep = 32'd1 *)\n  always @(posedge clk)\n    and_col"
    assert two.count(keep) == cfg.cols and "in_w_pad" in two
    assert "and_col" not in one and "in_w_pad" not in one
