"""The edge-shape suite of `make sim` covers every corner it claims, each matmul corner in both
modes, on the default config and the configs of the cycle tests (no simulation here)."""

import pytest

from hw.config import DEFAULT
from hw.ops import OpKind
from sim.suite import edge_suite, small_config

CONFIGS = [DEFAULT, small_config(), small_config(rows=3, cols=1, simd=32, max_k=64),
           small_config(rows=1, cols=4, simd=8, max_k=40, max_m=240),
           small_config(rows=3, cols=2, simd=16, max_k=32)]

#: name -> predicate on (cfg, job); each must hold for some XNOR and some AND job
MATMUL_CORNERS = {
    "M = N = K = 1": lambda c, j: j.m == j.n == j.k == 1,
    "M = R and N = C (one full tile)": lambda c, j: j.m == c.rows and j.n == c.cols,
    "K a multiple of SIMD, several tile rows, the last partial":
        lambda c, j: j.k % c.simd == 0 and ((j.m > c.rows and j.m % c.rows != 0) or c.rows == 1),
    "K not a multiple of SIMD": lambda c, j: j.k % c.simd != 0 or c.simd == 1,
    "K = max_k": lambda c, j: j.k == c.max_k,
    "M not a multiple of R": lambda c, j: j.m % c.rows != 0 or c.rows == 1,
    "N not a multiple of C": lambda c, j: j.n % c.cols != 0 or c.cols == 1,
    "several tile rows and columns": lambda c, j: j.m > c.rows and j.n > c.cols,
}

POOL_CORNERS = {
    "1x1 kernel": lambda c, j: tuple(j.kernel) == (1, 1),
    "1x1 input": lambda c, j: j.x.shape[1:] == (1, 1),
    "zero padding": lambda c, j: max(j.padding) > 0,
    "stride > 1": lambda c, j: max(j.stride) > 1,
    "W not a multiple of the lanes (lanes past W in the last beat)":
        lambda c, j: j.x.shape[2] % c.pool_lanes_eff != 0 or c.pool_lanes_eff == 1,
    "kh x kw with both > 1": lambda c, j: min(j.kernel) > 1,
}


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.tag)
def test_edge_suite_covers_every_corner_in_both_modes(cfg):
    jobs = edge_suite(cfg)
    mm = [j for j in jobs if j.kind is OpKind.MATMUL]
    pools = [j for j in jobs if j.kind is OpKind.POOL]
    missing = [f"{name} ({mode})" for name, pred in MATMUL_CORNERS.items()
               for mode in ("xnor", "and") if not any(j.mode == mode and pred(cfg, j) for j in mm)]
    missing += [name for name, pred in POOL_CORNERS.items() if not any(pred(cfg, j) for j in pools)]
    assert not missing, f"{cfg.tag}: no edge job for {missing}"


def test_edge_suite_is_deterministic_and_names_are_unique():
    a, b = edge_suite(DEFAULT, seed=5), edge_suite(DEFAULT, seed=5)
    assert [j.name for j in a] == [j.name for j in b]
    assert len({j.name for j in a}) == len(a)
    for x, y in zip(a, b):
        assert (x.golden() == y.golden()).all()
