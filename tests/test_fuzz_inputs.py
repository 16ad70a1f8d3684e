"""Fuzz: randomly corrupted op files and manifests give a one-line error naming the file, or an
op whose stored result is exactly its golden result -- never another exception (a traceback at
the command line) and never a silently wrong answer.

Hypothesis draws the corruptions with a fixed seed (``derandomize``), so a failure reproduces.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw.opfile import MANIFEST_NAME, JobError, read_manifest
from hw.ops import MatmulOp, PoolOp, load_op

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ops")
    rng = np.random.default_rng(0)
    mm = MatmulOp.from_bits("mm", "and", rng.integers(0, 2, (3, 13)),
                            rng.integers(0, 2, (2, 13))).with_result()
    pool = PoolOp.from_values("pool", rng.integers(-50, 50, (2, 5, 4)), 3, 8, (3, 1), (1, 1),
                              (1, 0)).with_result()
    mm.save(d / "mm.npz")
    pool.save(d / "pool.npz")
    return {"mm": (d / "mm.npz").read_bytes(), "pool": (d / "pool.npz").read_bytes()}


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return _valid_files(tmp_path_factory)


def _check_loaded(path):
    """The property: JobError with one line naming the file, or a correct op."""
    try:
        op = load_op(path)
    except JobError as exc:
        msg = str(exc)
        assert "\n" not in msg and str(path) in msg, msg
        return "error"
    assert op.result is not None
    assert np.array_equal(op.result, op.golden()), "a corrupted file loaded with a wrong result"
    return "ok"


@FUZZ
@given(kind=st.sampled_from(["mm", "pool"]),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_byte_corruption_never_passes_silently(valid, tmp_path, kind, edits, cut):
    data = bytearray(valid[kind])
    for pos, val in edits:
        data[pos % len(data)] = val
    if cut is not None:
        data = data[:cut % (len(data) + 1)]
    path = tmp_path / f"{kind}.npz"
    path.write_bytes(bytes(data))
    _check_loaded(path)


def _arrays(raw: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {n[:-4]: np.load(io.BytesIO(zf.read(n)), allow_pickle=False) for n in zf.namelist()}


def _npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


FIELD_VALUES = st.one_of(
    st.integers(-3, 40), st.sampled_from(["xnor", "and", "pool", "matmul", "", "x" * 300]),
    st.lists(st.integers(-2, 5), min_size=0, max_size=4).map(np.array),
    st.just(np.zeros((0,))), st.just(np.zeros((3, 2), np.float64) + 0.5),
    st.just(np.ones((3, 2), np.int64)), st.floats(allow_nan=True, allow_infinity=True))


@FUZZ
@given(kind=st.sampled_from(["mm", "pool"]),
       changes=st.dictionaries(st.sampled_from(["format_version", "kind", "name", "mode", "m", "n",
                                                "k", "a_bits", "w_bits", "result", "x",
                                                "frac_bits", "bits", "kernel", "stride",
                                                "padding"]),
                               st.one_of(st.none(), FIELD_VALUES), min_size=1, max_size=3))
def test_field_corruption_never_passes_silently(valid, tmp_path, kind, changes):
    arrays = _arrays(valid[kind])
    for key, val in changes.items():
        if val is None:
            arrays.pop(key, None)
        else:
            arrays[key] = val
    path = tmp_path / f"{kind}.npz"
    path.write_bytes(_npz(arrays))
    _check_loaded(path)


def test_the_property_catches_a_wrong_result(valid, tmp_path):
    """The check itself bites: a file whose result was changed is refused (the verify step), and
    with verification off the wrong result is what the property would flag."""
    arrays = _arrays(valid["mm"])
    arrays["result"] = arrays["result"] + 2
    path = tmp_path / "mm.npz"
    path.write_bytes(_npz(arrays))
    assert _check_loaded(path) == "error"
    assert not np.array_equal(load_op(path, verify=False).result,
                              load_op(path, verify=False).golden())


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                    lambda kids: st.one_of(st.lists(kids, max_size=4),
                                           st.dictionaries(st.text(max_size=6), kids, max_size=4)),
                    max_leaves=12)


@FUZZ
@given(doc=st.one_of(JSON, st.fixed_dictionaries({"ops": st.lists(
    st.dictionaries(st.sampled_from(["name", "kind", "file", "index"]), JSON, max_size=4),
    max_size=3)}, optional={"format_version": JSON, "kind": JSON})),
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\x00", b"garbage"]))
def test_manifest_corruption_gives_a_one_line_error(tmp_path, doc, prefix):
    (tmp_path / MANIFEST_NAME).write_bytes(prefix + json.dumps(doc).encode())
    try:
        ops = read_manifest(tmp_path)
    except JobError as exc:
        msg = str(exc)
        assert "\n" not in msg and str(tmp_path) in msg, msg
        return
    assert isinstance(ops, list)
    for op in ops:
        assert isinstance(op, dict) and {"name", "kind", "file", "path"} <= set(op)
