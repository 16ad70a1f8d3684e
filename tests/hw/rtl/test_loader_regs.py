"""The loader's own job values (``loader_regs`` 1): the operand loader decodes each command's
K, N and M from the command stream's payload into registers of its own; with ``loader_regs``
2 its bank writes also take the load beat from a run flag of their own. On the composed core
in Amaranth's simulator, for both levels: matmuls streamed as early as the core takes them,
with one and two weight buffers, and kept weights back to back, every result bit-exact and
every cycle the models' (the cycles of ``loader_regs`` 0); the deliberate ``own_late`` (the
copies taken a cycle after setup, from the next command) and ``split_late`` (the writes' run
flag a cycle behind) caught. The config field is tested here too."""

from dataclasses import replace

import pytest

from hw.config import ArrayConfig, ConfigError
from hw.ops import keep_flags

from tests.hw.rtl import test_keep_weights as keep
from tests.hw.test_config import assert_switch_field
from tests.hw.rtl.test_w_buffers import (CONFIGS, assert_streams_as_modelled, random_jobs,
                                         stream, wrong_results)


LEVELS = [1, 2]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("buffers", [1, 2])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_streamed_jobs_are_exact_and_take_the_sequence_models_cycles(name, buffers, level):
    cfg = replace(CONFIGS[name], w_buffers=buffers, loader_regs=level)
    assert_streams_as_modelled(cfg, [40 + buffers, 50 + buffers])


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", list(keep.CONFIGS))
def test_kept_weights_are_exact_and_take_the_modelled_cycles(name, level):
    cfg = replace(keep.CONFIGS[name], loader_regs=level)
    jobs = keep.layer_chunks(cfg)
    keeps = keep_flags(cfg, jobs)
    got = keep.run_back_to_back(cfg, jobs, keeps)
    assert len(got) == len(jobs)
    assert wrong_results(cfg, jobs, [beats for _, beats in got]) == []
    assert [cycles for cycles, _ in got] == [j.cycles(cfg, k) for j, k in zip(jobs, keeps)]


@pytest.mark.parametrize("level, fault", [(1, "own_late"), (2, "own_late"), (2, "split_late")])
def test_copies_taken_a_cycle_late_are_caught(level, fault):
    """``own_late``: each job's copies come from the command shown after its beat (the next
    job's when one waits), so jobs of another K, N or M load their rows wrong.
    ``split_late``: the bank writes miss each load's first beat."""
    cfg = replace(CONFIGS["4x2_g2_h3_d1"], loader_regs=level)
    jobs = random_jobs(cfg, 5, 7)
    _, _, beats = stream(cfg, jobs, fault=fault)
    assert wrong_results(cfg, jobs, beats), "the fault went unseen"


def test_the_config_field():
    base = CONFIGS["2x3x16"]
    assert_switch_field(base, "loader_regs", "j", top=2)
    with pytest.raises(ConfigError, match="--core-parts 1 or --loader-regs 0"):
        replace(base, loader_regs=1, core_parts=0)
    split = replace(base, loader_regs=2)
    assert split.tag == base.tag + "j2"
    assert ArrayConfig.from_dict(split.to_dict()) == split
    for bad in (-1, True):
        with pytest.raises(ConfigError, match=r"loader_regs must be 0, 1 or 2, got"):
            replace(base, loader_regs=bad)
    with pytest.raises(ConfigError, match="loader_regs 2 needs the core built from parts"):
        replace(base, loader_regs=2, core_parts=0)


def test_the_loader_reads_its_own_registers_only_with_the_field():
    """With the field the Verilog holds the loader's free-running decodes and its copies, and
    the copies' enable is the setup pulse; without it, none of them."""
    from hw.rtl.verilog import generate

    cfg = replace(CONFIGS["4x2_g2_h3_d1"], ctl_regs=1)
    plain, own = generate(cfg), generate(replace(cfg, loader_regs=1))
    names = ["kwords", "kw_pen", "kw_one", "rows_m", "one_m", "n_low", "m_low"]
    for name in names:
        assert f"own_{name} <=" in own and f"nx_{name} <=" in own, name
    for name in names + ["rows_n", "one_n", "overlap", "matmul"]:
        assert f"nx_{name}" in own and f"nx_{name}" not in plain, name
    assert "own_" not in plain
    split = generate(replace(cfg, loader_regs=2))
    assert "idle_wr" in split and "beat_wr" in split and "idle_wr" not in own
