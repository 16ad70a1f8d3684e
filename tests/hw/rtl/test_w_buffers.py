"""Two weight buffers (``w_buffers`` 2): the next matmul's command is taken once the running
job's operands are in, and its W loads into the other buffer while the running job computes.
On the composed core in Amaranth's simulator, sequences streamed as early as the core takes
them (input always valid, output always ready): every result bit-exact against the numpy
golden, every job's command cycle and last-result cycle the sequence model's
(:func:`hw.cost.sequence.sequence_times`), with one weight buffer too; the deliberate
``w_buffer_swap`` caught. The config's checks are tested here too."""

import random
from dataclasses import replace

import pytest

from hw.config import ArrayConfig, ConfigError
from hw.cost.cycles import matmul_cycles
from hw.cost.sequence import sequence_cycles, sequence_times
from hw.rtl.composed_core import ComposedCore
from hw.rtl.formats import decode_results, job_cmd, job_words
from hw.rtl.simulate import run_testbench
from sim.suite import random_matmul, small_config

CONFIGS = {
    "2x3x16": small_config(rows=2, cols=3, simd=16, max_k=40, max_m=9, max_n=9, pool_max_dim=9,
                           pool_max_planes=4, pool_max_kernel=5, pool_row_depth=16),
    "4x2_g2_h3_d1": small_config(rows=4, cols=2, load_rows=2, hold_banks=3, drain_rows=1,
                                 max_k=64),
    "3x2_h4_d3": small_config(rows=3, cols=2, hold_banks=4, drain_rows=3, max_k=100),
    "2x3_pool_port": small_config(rows=2, cols=3, simd=16, max_k=40, max_m=9, max_n=9,
                                  pool_max_dim=9, pool_max_planes=4, pool_max_kernel=5,
                                  pool_row_depth=16, pool_port=1),
}


def stream(cfg, jobs, budget=60_000, fault=None):
    """The jobs streamed into one ComposedCore: command beats and data beats (each job's W,
    then A) offered from cycle 0 on, output always ready. Returns (command cycles, last result
    cycles, result beats per job)."""
    dut = ComposedCore(cfg, fault=fault, with_pool=not cfg.pool_port)
    cmds = [job_cmd(cfg, j) for j in jobs]
    words = [w for j in jobs for w in job_words(cfg, j)]
    taken, lasts, beats = [], [], [[] for _ in jobs]

    async def bench(ctx):
        ctx.set(dut.out.ready, 1)
        ci = wi = 0
        for cycle in range(budget):
            ctx.set(dut.cmd.valid, ci < len(cmds))
            if ci < len(cmds):
                ctx.set(dut.cmd.payload.as_value(), cmds[ci])
            ctx.set(dut.data.valid, wi < len(words))
            if wi < len(words):
                ctx.set(dut.data.payload, words[wi])
            if ci < len(cmds) and ctx.get(dut.cmd.ready):
                taken.append(cycle)
                ci += 1
            if wi < len(words) and ctx.get(dut.data.ready):
                wi += 1
            if ctx.get(dut.out.valid):
                beats[len(lasts)].append(ctx.get(dut.out.payload.data))
                if ctx.get(dut.out.payload.last):
                    lasts.append(cycle)
                    if len(lasts) == len(jobs):
                        return
            await ctx.tick()

    run_testbench(dut, bench)
    return taken, lasts, beats


def random_jobs(cfg, count, seed):
    rng = random.Random(seed)
    return [random_matmul(f"j{i}", rng.choice(["xnor", "and"]), rng.randint(1, cfg.max_m),
                          rng.randint(1, cfg.max_n), rng.randint(1, cfg.max_k),
                          rng.randrange(10_000)) for i in range(count)]


def wrong_results(cfg, jobs, beats) -> list[str]:
    """Names of the jobs whose result beats do not decode to their golden results."""
    wrong = []
    for job, got in zip(jobs, beats):
        try:
            ok = (decode_results(cfg, job, got) == job.golden()).all()
        except ValueError:
            ok = False
        if not ok:
            wrong.append(job.name)
    return wrong


def assert_streams_as_modelled(cfg, seeds):
    """For each seed, six random matmuls streamed into ``cfg``'s core: every command cycle
    and last-result cycle the sequence model's, every result exact."""
    for seed in seeds:
        jobs = random_jobs(cfg, 6, seed)
        taken, lasts, beats = stream(cfg, jobs)
        want = sequence_times(cfg, [(j.m, j.n, j.k) for j in jobs])
        assert taken == [t.command for t in want], (seed, taken, want)
        assert lasts == [t.last_result for t in want], (seed, lasts, want)
        assert wrong_results(cfg, jobs, beats) == [], seed


@pytest.mark.parametrize("buffers", [1, 2])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_streamed_jobs_are_exact_and_take_the_sequence_models_cycles(name, buffers):
    cfg = replace(CONFIGS[name], w_buffers=buffers)
    hidden = 0
    for seed in range(3):
        jobs = random_jobs(cfg, 6, seed * 10 + buffers)
        taken, lasts, beats = stream(cfg, jobs)
        want = sequence_times(cfg, [(j.m, j.n, j.k) for j in jobs])
        assert taken == [t.command for t in want], (seed, taken, want)
        assert lasts == [t.last_result for t in want], (seed, lasts, want)
        for job, got in zip(jobs, beats):
            assert (decode_results(cfg, job, got) == job.golden()).all(), (seed, job.name)
        hidden += sum(t.w_hidden for t in want)
        assert sequence_cycles(cfg, [(j.m, j.n, j.k) for j in jobs]) == lasts[-1] + 1
    # two buffers hide most W loads here (each case of the model is run: the rest still load
    # when their job runs); one hides none
    assert (hidden > 0) == (buffers == 2)


def test_a_hidden_w_load_saves_its_beats_and_the_command_is_taken_ahead():
    """Two jobs: with two buffers the second job's command is taken the cycle after the
    first job's last A beat, and it ends exactly its W load beats after the first job's end
    plus its cycles alone less that load (hw/cost/sequence.py)."""
    base = CONFIGS["2x3x16"]
    first, second = random_matmul("a", "xnor", 5, 5, 40, 1), random_matmul("b", "xnor", 4, 7, 12, 2)
    one = stream(replace(base, w_buffers=1), [first, second])
    two = stream(replace(base, w_buffers=2), [first, second])
    assert one[1][0] == two[1][0] == matmul_cycles(base, 5, 5, 40) - 1
    assert two[0][1] == 1 + 5 * 3 + 5 * 3 + 1 < one[0][1]    # setup, W, A, then taken
    assert one[1][1] - two[1][1] == 7                        # ceil(7 / 1) * 1 W beats


def test_the_weight_buffer_swap_is_caught():
    cfg = replace(CONFIGS["2x3x16"], w_buffers=2)
    jobs = random_jobs(cfg, 4, 5)
    _, lasts, beats = stream(cfg, jobs, fault="w_buffer_swap")
    wrong = 0
    for job, got in zip(jobs, beats):
        try:
            wrong += not (decode_results(cfg, job, got) == job.golden()).all()
        except ValueError:
            wrong += 1
    assert wrong > 0


def test_the_config_field():
    base = CONFIGS["2x3x16"]
    two = replace(base, w_buffers=2)
    assert two.w_bank_depth == 2 * two.w_buffer_words == 2 * base.w_bank_depth
    assert two.tag.endswith("w2") and "w_buffers" not in base.to_dict()
    assert ArrayConfig.from_dict(two.to_dict()) == two
    with pytest.raises(ConfigError, match="w_buffers must be 1 or 2"):
        replace(base, w_buffers=3)
    with pytest.raises(ConfigError, match="--core-parts 1 --keep-weights 0"):
        replace(base, w_buffers=2, core_parts=0)
    with pytest.raises(ConfigError, match="--core-parts 1 --keep-weights 0"):
        replace(base, w_buffers=2, keep_weights=1)
