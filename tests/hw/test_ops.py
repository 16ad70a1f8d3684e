"""The job format: packing, golden semantics against brute force, and file validation."""

import numpy as np
import pytest

from hw.ops import MatmulOp, PoolOp, load_op
from hw.opfile import JobError, pack_bits, unpack_bits, write_npz


def test_pack_is_lsb_first_and_unpack_inverts():
    bits = np.array([[1, 0, 0, 0, 0, 0, 0, 0, 1, 1]], dtype=np.uint8)
    packed = pack_bits(bits)
    assert packed.tolist() == [[1, 3]]
    assert np.array_equal(unpack_bits(packed, 10), bits)


def test_padding_bits_must_be_zero():
    with pytest.raises(JobError, match="padding bits must be zero"):
        unpack_bits(np.array([[0xFF, 0x04]], dtype=np.uint8), 10)


@pytest.mark.parametrize("mode", ["xnor", "and"])
def test_matmul_golden_against_brute_force(mode):
    rng = np.random.default_rng(0)
    a, w = rng.integers(0, 2, (5, 13)), rng.integers(0, 2, (4, 13))
    job = MatmulOp.from_bits("j", mode, a, w)
    for i in range(5):
        for j in range(4):
            if mode == "xnor":   # 2 * popcount(xnor) - K
                want = 2 * int(np.sum(a[i] == w[j])) - 13
            else:                # 2 * popcount(a AND w) - popcount(a)
                want = 2 * int(np.sum(a[i] & w[j])) - int(a[i].sum())
            assert job.golden()[i, j] == want


def test_pool_golden_against_brute_force():
    rng = np.random.default_rng(1)
    x = rng.integers(-100, 100, (2, 5, 6))
    job = PoolOp.from_values("p", x, 4, 8, (3, 1), (1, 1), (1, 0))
    out = job.golden()
    assert out.shape == job.out_shape == (2, 5, 6)
    for p in range(2):
        for i in range(5):
            for j in range(6):
                want = sum(x[p, r, j] for r in (i - 1, i, i + 1) if 0 <= r < 5)
                assert out[p, i, j] == want


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    m = MatmulOp.from_bits("m", "and", rng.integers(0, 2, (3, 9)), rng.integers(0, 2, (2, 9))).with_result()
    m.save(tmp_path / "m.npz")
    back = load_op(tmp_path / "m.npz")
    assert back.mode == "and" and np.array_equal(back.result, m.result)
    assert np.array_equal(back.a_bits, m.a_bits) and np.array_equal(back.w_bits, m.w_bits)
    p = PoolOp.from_values("p", rng.integers(-8, 8, (2, 4, 4)), 3, 4, 2, 2).with_result()
    p.save(tmp_path / "p.npz")
    assert np.array_equal(load_op(tmp_path / "p.npz").result, p.result)


def test_file_whose_shapes_disagree_with_header_is_rejected(tmp_path):
    rng = np.random.default_rng(3)
    job = MatmulOp.from_bits("m", "xnor", rng.integers(0, 2, (3, 9)), rng.integers(0, 2, (2, 9)))
    arrays = dict(format_version=1, kind="matmul", name="m", mode="xnor", m=4, n=2, k=9,
                  a_bits=pack_bits(job.a_bits), w_bits=pack_bits(job.w_bits),
                  result=job.golden().astype(np.int32))
    write_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(JobError, match="header says M=4"):
        load_op(tmp_path / "bad.npz")
    write_npz(tmp_path / "bad2.npz", arrays | {"m": 3, "k": 17})
    with pytest.raises(JobError, match="expected \\(rows, 3\\) for K=17"):
        load_op(tmp_path / "bad2.npz")
    write_npz(tmp_path / "bad4.npz", arrays | {"m": 3, "k": 16})   # same bytes, wrong K
    with pytest.raises(JobError, match="disagree with the result recomputed"):
        load_op(tmp_path / "bad4.npz")
    write_npz(tmp_path / "bad3.npz", arrays | {"m": 3, "result": np.zeros((3, 3), np.int32)})
    with pytest.raises(JobError, match="result has shape"):
        load_op(tmp_path / "bad3.npz")


def test_invalid_jobs_are_rejected():
    with pytest.raises(JobError, match="K disagrees"):
        MatmulOp.from_bits("m", "xnor", np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(JobError, match="unknown mode"):
        MatmulOp.from_bits("m", "xor", np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(JobError, match="two's complement"):
        PoolOp.from_values("p", np.full((1, 2, 2), 200), 0, 8, 2, 2)
    with pytest.raises(JobError, match="does not exist"):
        load_op("/nonexistent/job.npz")


def test_kinds_are_an_enum_with_one_class_each():
    from hw.ops import OP_CLASSES, OpKind

    assert {k.value for k in OpKind} == {"matmul", "pool"}
    assert all(cls.kind is kind for kind, cls in OP_CLASSES.items())


def test_shape_only_ops_count_by_shape_and_ignore_data():
    rng = np.random.default_rng(4)
    with_bits = MatmulOp.from_bits("l.fc1", "xnor", rng.integers(0, 2, (3, 9)),
                                   rng.integers(0, 2, (2, 9)))
    assert with_bits.shape_only() == MatmulOp("l.fc1", "xnor", 3, 2, 9)
    assert with_bits.shape_only().a_bits is None
    assert hash(with_bits.shape_only()) == hash(MatmulOp("l.fc1", "xnor", 3, 2, 9))
    assert MatmulOp("b.attn.scores", "xnor", 3, 2, 9).group == "attention"
    assert MatmulOp("s.merge.conv", "xnor", 3, 2, 9).group == "merge"
    with pytest.raises(JobError, match="shape-only"):
        MatmulOp("m", "xnor", 3, 2, 9).golden()


def test_matmul_legal_jobs_cover_the_op_and_fit_the_config():
    from collections import Counter

    from hw.config import ArrayConfig, ConfigError

    cfg = ArrayConfig(rows=2, cols=2, simd=16, max_m=7, max_n=5, max_k=40)
    op = MatmulOp("mm", "and", 23, 11, 100)
    jobs = op.legal_jobs(cfg)
    assert sum(c * j.macs for j, c in jobs.items()) == op.macs
    brute = Counter((a, b, d) for a in (7, 7, 7, 2) for b in (5, 5, 1) for d in (40, 40, 20))
    assert Counter({(j.m, j.n, j.k): c for j, c in jobs.items()}) == brute
    for j in jobs:
        j.check(cfg)
        assert j.mode == "and" and j.name == "mm"
    with pytest.raises(ConfigError, match="max_m=7"):
        op.check(cfg)
    assert op.total_cycles(cfg) == sum(c * j.cycles(cfg) for j, c in jobs.items())
    assert op.k_splits(cfg) == 3


def test_pool_check_names_the_limit():
    from hw.config import ArrayConfig, ConfigError

    cfg = ArrayConfig(pool_bits=8, pool_max_planes=4)
    with pytest.raises(ConfigError, match="pool_bits=8"):
        PoolOp.from_values("p", np.zeros((1, 4, 4), int), 0, 16, 2, 2).check(cfg)
    with pytest.raises(ConfigError, match="pool_max_planes=4"):
        PoolOp("p", 5, 4, 4, (2, 2), (2, 2)).check(cfg)
    PoolOp("p", 4, 4, 4, (2, 2), (2, 2)).check(cfg)
