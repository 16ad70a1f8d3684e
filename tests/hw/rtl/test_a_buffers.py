"""Two activation buffers (``a_buffers`` 2, with two weight buffers): a matmul taken ahead
loads its W and then its A rows into the other halves of the banks while the job before
computes, keeps its tile rows and last tile row's sizes aside, and hands them over when it
runs. On the composed core in Amaranth's simulator: random matmuls streamed as early as the
core takes them, every command cycle and last-result cycle :mod:`hw.cost.sequence`'s, every
result exact, over seeds chosen so that every case of the model occurs (W still loading when
the job runs; A all in before it runs, or its last beat in the run cycle itself; only the
first tile row's A in, or in exactly then; not even that); the deliberate ``a_buffer_swap``
caught. The config field is tested here too."""

from dataclasses import replace

import pytest

from hw.config import ArrayConfig, ConfigError, ceil_div, load_beats
from hw.cost.cycles import matmul_terms
from hw.cost.sequence import sequence_cycles, sequence_times

from tests.hw.rtl.test_w_buffers import (CONFIGS, assert_streams_as_modelled, random_jobs,
                                         stream, wrong_results)

#: seeds of :func:`random_jobs` per config; together they give every case of :func:`ahead_cases`
SEEDS = {"2x3x16": (0, 48, 102), "4x2_g2_h3_d1": (1, 29, 41), "3x2_h4_d3": (8, 10, 12),
         "2x3_pool_port": (125,)}
CASES = {"w_loading", "a_in", "a_at_run", "first_in", "first_at_run", "first_later"}


def two_a(name, **fields):
    return replace(CONFIGS[name], w_buffers=2, a_buffers=2, **fields)


def ahead_cases(cfg, shapes) -> list[str]:
    """For each job after the first of a streamed sequence, where its loads stand in the
    setup cycle of its run (the model's cycles, computed here from the model's inputs)."""
    times, out = sequence_times(cfg, shapes), []
    for i, (m, n, k) in enumerate(shapes[1:], 1):
        terms = matmul_terms(cfg, m, n, k)
        setup = times[i - 1].last_result - (cfg.result_latency - 1) + 2
        w_end = times[i].command + 1 + terms["w_load"]
        first_end = w_end + terms["a_load"]
        a_end = w_end + load_beats(m, cfg.load_rows_eff) * ceil_div(k, cfg.simd)
        if not times[i].w_hidden:
            out.append("w_loading")
        elif a_end <= setup:
            out.append("a_in" if a_end < setup else "a_at_run")
        elif first_end <= setup:
            out.append("first_in" if first_end < setup else "first_at_run")
        else:
            out.append("first_later")
    return out


def test_the_seeds_cover_every_case():
    seen = set()
    for name, seeds in SEEDS.items():
        cfg = two_a(name)
        for seed in seeds:
            jobs = random_jobs(cfg, 6, seed)
            seen.update(ahead_cases(cfg, [(j.m, j.n, j.k) for j in jobs]))
    assert seen == CASES


@pytest.mark.parametrize("name", list(SEEDS))
def test_streamed_jobs_are_exact_and_take_the_sequence_models_cycles(name):
    assert_streams_as_modelled(two_a(name), SEEDS[name])


def test_with_the_loaders_own_registers_and_control_registers():
    cfg = two_a("4x2_g2_h3_d1", ctl_regs=1, loader_regs=2)
    assert_streams_as_modelled(cfg, SEEDS["4x2_g2_h3_d1"])


def test_a_second_activation_buffer_saves_cycles():
    """Never slower than one activation buffer, faster on every sequence here."""
    for name, seeds in SEEDS.items():
        cfg = two_a(name)
        for seed in seeds:
            shapes = [(j.m, j.n, j.k) for j in random_jobs(cfg, 6, seed)]
            assert sequence_cycles(cfg, shapes) < sequence_cycles(
                replace(cfg, a_buffers=1), shapes), (name, seed)


def test_activations_read_from_the_other_buffer_are_caught():
    cfg = two_a("4x2_g2_h3_d1")
    jobs = random_jobs(cfg, 6, 1)
    _, _, beats = stream(cfg, jobs, fault="a_buffer_swap")
    assert wrong_results(cfg, jobs, beats), "the fault went unseen"


def test_the_config_field():
    base = replace(CONFIGS["2x3x16"], w_buffers=2)
    two = replace(base, a_buffers=2)
    assert two.tag == base.tag + "a2" and "a_buffers" not in base.to_dict()
    assert ArrayConfig.from_dict(two.to_dict()) == two
    assert ArrayConfig.from_dict(base.to_dict()).a_buffers == 1
    assert two.a_bank_depth == 2 * base.a_bank_depth == 2 * two.a_buffer_words
    with pytest.raises(ConfigError, match="a_buffers must be 1 or 2, got 3"):
        replace(base, a_buffers=3)
    with pytest.raises(ConfigError, match="--w-buffers 2 or --a-buffers 1"):
        replace(two, w_buffers=1)
