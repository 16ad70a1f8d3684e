"""Random jobs: the edge-shape suite of ``make sim`` and single random jobs for ``sim array``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hw.config import ArrayConfig
from hw.ops import MatmulOp, PoolOp


def random_matmul(name: str, mode: str, m: int, n: int, k: int, seed: int) -> MatmulOp:
    """A matmul job with uniformly random bits and its numpy golden result."""
    rng = np.random.default_rng(seed)
    return MatmulOp.from_bits(name, mode, rng.integers(0, 2, (m, k)), rng.integers(0, 2, (n, k))).with_result()


def random_pool(name: str, shape, bits: int, kernel, stride, padding, seed: int,
                frac_bits: int = 8) -> PoolOp:
    """A pool job over random ``bits``-bit two's-complement values (extremes included)."""
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x = rng.integers(lo, hi + 1, shape)
    x.flat[0], x.flat[-1] = lo, hi
    return PoolOp.from_values(name, x, frac_bits, bits, kernel, stride, padding).with_result()


def edge_suite(cfg: ArrayConfig, seed: int = 1) -> list:
    """Matmul and pool jobs that hit the edges of ``cfg``, each matmul corner in both modes:
    M, N, K = 1, primes, K not a multiple of SIMD, K at max_k, M/N not multiples of R/C,
    M = R with N = C (one full tile), K a multiple of SIMD with a partial last tile row; every
    BinaryViT pool shape, a 1x1 pool and a 1x1 input (tests/sim/test_suite.py checks the
    corners)."""
    R, C, S = cfg.rows, cfg.cols, cfg.simd
    shapes = [
        ("xnor", 1, 1, 1), ("and", 1, 1, 1),
        ("xnor", 7, 13, 97), ("and", 11, 5, 61),
        ("xnor", R + 1, C + 1, S + 1), ("and", R - 1 or 1, 2 * C + 1, S - 1 or 1),
        ("xnor", 3, 2, cfg.max_k), ("and", 2, 3, cfg.max_k),
        ("xnor", 2 * R, 2 * C, 2 * S), ("xnor", 1, 3 * C + 2, 5),
        ("and", 3 * R + 1, 1, 3 * S + 7), ("xnor", 17, 19, 129),
        ("xnor", R, C, S), ("and", R, C, 3 * S),
        ("xnor", 2 * R + 1, C + 2, 2 * S), ("and", R + 1, 2 * C, S),
    ]
    jobs = []
    for i, (mode, m, n, k) in enumerate(shapes):
        m, n, k = min(m, cfg.max_m), min(n, cfg.max_n), min(k, cfg.max_k)
        jobs.append(random_matmul(f"edge_{mode}_{m}x{n}x{k}", mode, m, n, k, seed * 1000 + i))
    b = min(cfg.pool_bits, 12)
    pools = [
        ("branch_1x3", (3, 5, 7), (1, 3), (1, 1), (0, 1)),
        ("branch_3x1", (3, 5, 7), (3, 1), (1, 1), (1, 0)),
        ("branch_1x5", (2, 4, 9), (1, 5), (1, 1), (0, 2)),
        ("branch_5x1", (2, 9, 4), (5, 1), (1, 1), (2, 0)),
        ("merge_2x2s2", (4, 6, 6), (2, 2), (2, 2), (0, 0)),
        ("sr_4x4s4", (2, 8, 8), (4, 4), (4, 4), (0, 0)),
        ("gap_5x5", (3, 5, 5), (5, 5), (1, 1), (0, 0)),
        ("ffn_group_1x4", (6, 1, 24), (1, 4), (1, 4), (0, 0)),
        ("odd_3x2s2", (1, 7, 5), (3, 2), (2, 2), (1, 1)),
        ("id_1x1", (2, 3, 5), (1, 1), (1, 1), (0, 0)),
        ("pixel_1x1", (3, 1, 1), (1, 1), (1, 1), (0, 0)),
    ]
    for i, (name, shape, kern, stride, pad) in enumerate(pools):
        if max(*kern, *stride, *pad) > cfg.pool_max_kernel or max(shape[1:]) > cfg.pool_max_dim:
            continue
        jobs.append(random_pool(f"pool_{name}", shape, b, kern, stride, pad, seed * 1000 + 100 + i))
    return jobs


def save_jobs(jobs, directory) -> list[Path]:
    """Save jobs as ``.npz`` files; return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for job in jobs:
        path = directory / f"{job.name}.npz"
        job.save(path)
        paths.append(path)
    return paths


def small_config(**kw):
    """A small ArrayConfig (small memories: fast to build) for tests and quick experiments."""
    base = dict(rows=2, cols=3, simd=16, max_k=100, max_m=24, max_n=24, pool_bits=8,
                pool_max_dim=24, pool_max_planes=8, pool_max_kernel=8, pool_row_depth=512)
    base.update(kw)
    return ArrayConfig(**base)


#: faults that only back-pressure or input idles expose (a queue that overflows when its
#: reader waits): run with random input idles and output stalls
STALL_FAULTS = {"queue_drop": dict(idle_prob=0.3, stall_prob=0.3),
                "fifo_overfill": dict(idle_prob=0.1, stall_prob=0.6)}


def fault_jobs(max_k: int) -> list:
    """Jobs that expose each deliberate fault (tests/sim/test_faults.py) on a config whose
    max_k is ``max_k``: K = max_k with A = W (popcount = K: overflows a short
    accumulator), K not a multiple of SIMD (padding), several words per row (skew), a 1x3
    branch pool (window rows of 3 values: the pool unit's row shift register)."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 2, (4, max_k))
    return [
        MatmulOp.from_bits("a_equals_w_kmax", "xnor", a, a).with_result(),
        random_matmul("kpad_21", "xnor", 5, 4, 21, 3),
        random_matmul("multiword_and", "and", 7, 5, 30, 4),
        random_pool("pool_branch_1x3", (3, 4, 6), 8, (1, 3), (1, 1), (0, 1), 5),
    ]
