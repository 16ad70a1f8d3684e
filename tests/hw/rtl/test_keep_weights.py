"""Kept weights (``keep_weights`` 1): a matmul job whose command says ``keep_w`` loads its A rows
only and computes with the weights the job before it left in the weight banks. On the
composed core in Amaranth's simulator, jobs back to back: every result bit-exact against the
numpy golden, every job's cycles the cycle model's (no W term for a kept job), and the
loader's deliberate ``keep_clears_n_l`` caught. The host's rule (:func:`hw.ops.keep_flags`)
and the config's checks are tested here too."""

from dataclasses import replace

import numpy as np
import pytest

from hw.config import ArrayConfig, ConfigError
from hw.ops import MatmulOp, keep_flags, keeps_weights
from hw.rtl.composed_core import ComposedCore
from hw.rtl.formats import cmd_layout, decode_results, job_cmd, job_words
from hw.rtl.simulate import run_testbench
from sim.suite import random_matmul, random_pool, small_config

from tests.hw.rtl.test_w_buffers import wrong_results

BASE = small_config(rows=2, cols=3, simd=16, max_k=40, max_m=9, max_n=9, pool_max_dim=9,
                    pool_max_planes=4, pool_max_kernel=5, pool_row_depth=16, keep_weights=1)
CONFIGS = {
    "2x3x16": BASE,
    "4x2_g2_h3": replace(BASE, rows=4, cols=2, load_rows=2, hold_banks=3),
}


def same_w(job: MatmulOp, name: str, m: int, seed: int, mode: str = "xnor") -> MatmulOp:
    """A job of ``m`` new random A rows with ``job``'s weights (the next M chunk of a layer)."""
    a = np.random.default_rng(seed).integers(0, 2, (m, job.k))
    return MatmulOp.from_bits(name, mode, a, job.w_bits).with_result()


def layer_chunks(cfg: ArrayConfig) -> list[MatmulOp]:
    """Two layers, each in M chunks that share its weights, KW = 1 and KW = 3, N not a
    multiple of C (the last tile column's size must be kept too), an AND-mode chunk."""
    first = random_matmul("l1_c0", "xnor", 5, 5, 40, 1)
    second = random_matmul("l2_c0", "xnor", 4, 7, 12, 2)
    return [first, same_w(first, "l1_c1", 3, 3), same_w(first, "l1_c2", 9, 4, "and"),
            second, same_w(second, "l2_c1", 1, 5)]


def run_back_to_back(cfg, jobs, keeps, fault=None, budget=20_000):
    """The jobs on one ComposedCore, each command beat the cycle after the job before's last
    result beat (input always valid, output always ready). Returns [(cycles, beats)]."""
    dut = ComposedCore(cfg, fault=fault)
    plan = [(job_cmd(cfg, j, k), job_words(cfg, j, keep_w=k)) for j, k in zip(jobs, keeps)]
    out = []

    async def bench(ctx):
        ctx.set(dut.out.ready, 1)
        job, sent, start, beats = 0, 0, None, []
        for cycle in range(budget):
            cmd, words = plan[job]
            ctx.set(dut.cmd.payload.as_value(), cmd)
            ctx.set(dut.cmd.valid, start is None)
            ctx.set(dut.data.valid, start is not None and sent < len(words))
            if start is not None and sent < len(words):
                ctx.set(dut.data.payload, words[sent])
            if start is None and ctx.get(dut.cmd.ready):
                start = cycle
            elif ctx.get(dut.data.valid) and ctx.get(dut.data.ready):
                sent += 1
            last = False
            if ctx.get(dut.out.valid):
                beats.append(ctx.get(dut.out.payload.data))
                last = ctx.get(dut.out.payload.last)
            await ctx.tick()
            if last:
                out.append((cycle - start + 1, beats))
                job, sent, start, beats = job + 1, 0, None, []
                if job == len(plan):
                    return

    run_testbench(dut, bench)
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_kept_weights_are_exact_and_take_the_modelled_cycles(name):
    cfg = CONFIGS[name]
    jobs = layer_chunks(cfg)
    keeps = keep_flags(cfg, jobs)
    assert keeps == [False, True, True, False, True]
    got = run_back_to_back(cfg, jobs, keeps)
    assert len(got) == len(jobs)
    for job, keep, (cycles, beats) in zip(jobs, keeps, got):
        assert (decode_results(cfg, job, beats) == job.golden()).all(), job.name
        assert cycles == job.cycles(cfg, keep), (job.name, cycles, job.cycles(cfg, keep))
    # a kept job saves exactly its W load beats, ceil(N / G) * KW
    first, kept = jobs[0], jobs[1]
    g, kw = cfg.load_rows_eff, -(-first.k // cfg.simd)
    assert (kept.cycles(cfg) - kept.cycles(cfg, True)) == -(-first.n // g) * kw


def test_the_kept_last_column_fault_is_caught():
    """``keep_clears_n_l``: the kept job's last tile column comes out empty; the jobs that
    load their weights stay exact."""
    jobs = layer_chunks(BASE)
    keeps = keep_flags(BASE, jobs)
    got = run_back_to_back(BASE, jobs, keeps, fault="keep_clears_n_l")
    wrong = wrong_results(BASE, jobs, [beats for _, beats in got])
    assert wrong, "the fault went unseen"
    assert all(keep for job, keep in zip(jobs, keeps) if job.name in wrong), wrong


def test_a_job_keeps_only_the_weights_of_the_job_before_on_its_core():
    cfg = BASE
    first = random_matmul("a", "xnor", 3, 4, 20, 1)
    again = same_w(first, "b", 2, 2)
    other_w = random_matmul("c", "xnor", 2, 4, 20, 3)
    pool = random_pool("p", (2, 4, 4), 8, (2, 2), (2, 2), (0, 0), 4)
    assert keep_flags(cfg, [first, again, again, other_w, again]) == [False, True, True,
                                                                       False, False]
    # a pool between two chunks: on one core it ends the chain, beside a pool core it does not
    assert keep_flags(cfg, [first, pool, again]) == [False, False, False]
    ported = replace(cfg, pool_port=1)
    assert keep_flags(ported, [first, pool, again],
                      lambda j: "pool" if j.kind.value == "pool" else "core") == [
        False, False, True]
    # no keep without the config's field, nor between shape-only ops (equal shapes are not
    # equal weights), nor with a different K
    assert keep_flags(replace(cfg, keep_weights=0), [first, again]) == [False, False]
    assert not keeps_weights(cfg, first.shape_only(), again.shape_only())
    longer = random_matmul("d", "xnor", 3, 4, 24, 1)
    assert not keeps_weights(cfg, first, longer)


def test_the_config_field_and_the_command_field():
    with pytest.raises(ConfigError, match="--core-parts 1"):
        replace(BASE, core_parts=0)
    with pytest.raises(ConfigError, match="keep_weights must be 0 or 1"):
        replace(BASE, keep_weights=2)
    # the command gains one bit, keep_w, only with the field; a config without it writes its
    # dict as before the field existed
    assert "keep_w" in dict(cmd_layout(BASE).members)
    assert "keep_w" not in dict(cmd_layout(replace(BASE, keep_weights=0)).members)
    assert "keep_weights" not in replace(BASE, keep_weights=0).to_dict()
    assert ArrayConfig.from_dict(BASE.to_dict()) == BASE
    assert BASE.tag.endswith("w")
    job = random_matmul("a", "xnor", 3, 4, 20, 1)
    with pytest.raises(ValueError, match="keep_weights 1"):
        job.cycles(replace(BASE, keep_weights=0), True)
    assert len(job_words(BASE, job, keep_w=True)) == len(job_words(BASE, job)) - 4 * 2
