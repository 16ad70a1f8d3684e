"""Functional coverage (sim/coverage.py) and the cocotbext-axi testbench (sim/bfm.py, sim/tb.py):
exact bins of hand-made jobs, back-to-back kind transitions with no gap and exact cycles,
mid-job resets in every phase with the next job bit-exact, the stream conditions under
back-pressure, and a broken design still caught."""

import pytest

from sim import coverage
from sim.runner import run_jobs
from sim.suite import random_matmul, random_pool, save_jobs, small_config

CFG = small_config()          # R = 2, C = 3, SIMD = 16, max_k = 100


def _mm(mode, m, n, k, seed=1):
    return random_matmul(f"{mode}_{m}x{n}x{k}", mode, m, n, k, seed)


def _pool(name, shape, kernel, stride, padding, seed=2):
    return random_pool(name, shape, 8, kernel, stride, padding, seed)


# ---- bins from shapes (no simulation) -----------------------------------------------------------
SHAPE_CASES = [
    (_mm("xnor", 1, 1, 1), ["mode:xnor", "k_mod_simd:nonzero", "m_mod_r:nonzero",
                            "n_mod_c:nonzero", "tiles_m:single", "tiles_n:single",
                            "tiles_k:single", "k:1"]),
    (_mm("and", 4, 6, 100), ["mode:and", "k_mod_simd:nonzero", "m_mod_r:0", "n_mod_c:0",
                             "tiles_m:multi", "tiles_n:multi", "tiles_k:multi", "k:max"]),
    (_mm("xnor", 2, 3, 32), ["mode:xnor", "k_mod_simd:0", "m_mod_r:0", "n_mod_c:0",
                             "tiles_m:single", "tiles_n:single", "tiles_k:multi"]),
    (_mm("and", 5, 4, 16), ["mode:and", "k_mod_simd:0", "m_mod_r:nonzero", "n_mod_c:nonzero",
                            "tiles_m:multi", "tiles_n:multi", "tiles_k:single"]),
    (_pool("sr4", (2, 8, 8), (4, 4), (4, 4), (0, 0)), ["mode:pool", "pool:sr_rxr/r"]),
    (_pool("merge", (2, 4, 6), (2, 2), (2, 2), (0, 0)),
     ["mode:pool", "pool:sr_rxr/r", "pool:merge_2x2/2"]),
    (_pool("h3", (2, 5, 4), (3, 1), (1, 1), (1, 0)), ["mode:pool", "pool:branch_3x1/1"]),
    (_pool("w3", (2, 5, 4), (1, 3), (1, 1), (0, 1)), ["mode:pool", "pool:branch_1x3/1"]),
    (_pool("h5", (2, 6, 3), (5, 1), (1, 1), (2, 0)), ["mode:pool", "pool:branch_5x1/1"]),
    (_pool("w5", (2, 3, 6), (1, 5), (1, 1), (0, 2)), ["mode:pool", "pool:branch_1x5/1"]),
    (_pool("gap", (3, 4, 4), (4, 4), (4, 4), (0, 0)), ["mode:pool", "pool:gap_kxk/k"]),
    (_pool("ffn", (4, 1, 8), (1, 2), (1, 2), (0, 0)), ["mode:pool", "pool:ffn_1xg/1xg"]),
    (_pool("id", (2, 3, 3), (1, 1), (1, 1), (0, 0)), ["mode:pool", "pool:other"]),
    (_pool("h3_unpadded", (2, 5, 4), (3, 1), (1, 1), (0, 0)), ["mode:pool", "pool:other"]),
]


@pytest.mark.parametrize("job, bins", SHAPE_CASES, ids=[j.name for j, _ in SHAPE_CASES])
def test_shape_bins_of_hand_made_jobs(job, bins):
    assert coverage.shape_bins(CFG, job) == bins
    assert set(bins) <= set(coverage.ALL_BINS)


def test_bin_names_and_other_helpers():
    assert len(set(coverage.ALL_BINS)) == len(coverage.ALL_BINS) == 43
    assert coverage.ALL_BINS == tuple(b for g in coverage.GROUPS.values() for b in g)
    assert {coverage.transition_bin(a, b) for a in coverage.KINDS for b in coverage.KINDS} == \
        set(coverage.GROUPS["back_to_back"])
    assert coverage.stream_bins(fifo_full=True, starved=False, backpressure=True) == \
        ["fifo:full", "output:backpressure"]
    assert coverage.unreachable(CFG) == set()
    assert coverage.unreachable(small_config(rows=1, cols=1, simd=16, max_k=16)) == {
        "m_mod_r:nonzero", "n_mod_c:nonzero", "tiles_k:multi"}


def test_merge_and_report():
    rows = [{"cover": ["mode:xnor", "k:1", "b2b:xnor->and"]}, {"cover": ["mode:xnor"]},
            {"op": "old row without cover"}, {"cover": ["from:a-newer-testbench"]}]
    merged = coverage.merge(rows)
    assert merged["jobs"] == 4 and merged["total"] == len(coverage.ALL_BINS)
    assert merged["bins"]["mode:xnor"] == 2 and merged["bins"]["k:1"] == 1
    assert list(merged["bins"]) == list(coverage.ALL_BINS)
    assert merged["covered"] == 3 and not merged["closed"]
    assert "mode:and" in merged["missing"] and "mode:xnor" not in merged["missing"]
    assert merged["unknown"] == {"from:a-newer-testbench": 1}
    text = coverage.report_text(merged)
    assert text.startswith(f"coverage: 3 of {len(coverage.ALL_BINS)} bins hit")
    assert "xnor 2, and 0, pool 0" in text and "missing: " in text
    # every bin hit once, one excluded: closed
    full = coverage.merge([{"cover": list(coverage.ALL_BINS[1:])}],
                          exclude={coverage.ALL_BINS[0]})
    assert full["closed"] and full["missing"] == [] and full["total"] == len(coverage.ALL_BINS) - 1
    assert "xnor -" in coverage.report_text(full)


# ---- simulations (one build per config and fault, shared) --------------------------------------
@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cov_build")


def _run(tmp_path, build_dir, jobs, **kw):
    rows = run_jobs(CFG, save_jobs(jobs, tmp_path), build_dir=build_dir, **kw)
    assert len(rows) == len(jobs)
    return rows


#: ten jobs whose order makes all nine kind transitions
TRANSITION_JOBS = [
    _mm("xnor", 3, 4, 20, 1), _mm("xnor", 2, 3, 16, 2), _mm("and", 5, 2, 33, 3),
    _mm("and", 1, 7, 9, 4), _pool("p_h3", (2, 4, 5), (3, 1), (1, 1), (1, 0), 5),
    _pool("p_gap", (3, 4, 4), (4, 4), (4, 4), (0, 0), 6), _mm("xnor", 4, 6, 100, 7),
    _pool("p_ffn", (4, 1, 8), (1, 2), (1, 2), (0, 0), 8), _mm("and", 2, 2, 1, 9),
    _mm("xnor", 7, 5, 48, 10),
]


def test_back_to_back_transitions_exact_bins_no_gap(tmp_path, build_dir):
    """No stalls: one reset, then every job back to back, each bit-exact with the model's
    cycles, each command beat accepted the cycle after the previous job's last result beat,
    and each row's bins exactly its shape bins plus the transition from the previous kind."""
    jobs = TRANSITION_JOBS
    rows = _run(tmp_path, build_dir, jobs)
    kinds = [coverage.job_kind(j) for j in jobs]
    for i, (job, row) in enumerate(zip(jobs, rows)):
        assert row["passed"] and row["mismatches"] == 0 and row["error"] is None, row
        assert row["cycles"] == job.cycles(CFG), (job.name, row["cycles"], job.cycles(CFG))
        want = coverage.shape_bins(CFG, job)
        if i:
            want = want + [f"b2b:{kinds[i - 1]}->{kinds[i]}"]
            assert row["cycle_span"][0] == rows[i - 1]["cycle_span"][1] + 1, (i, rows[i - 1:i + 1])
        assert row["cover"] == want, (job.name, row["cover"])
    merged = coverage.merge(rows)
    assert all(merged["bins"][b] for b in coverage.GROUPS["back_to_back"]), merged["missing"]


# the jobs cut by a reset (0, 2, 4, 6) take the phases in turn; job 4 (compute: all data in,
# no result yet) is a matmul: a streaming pool has results out before its last data beat
RESET_JOBS = [_mm("xnor", 5, 4, 40, 11), _mm("and", 3, 5, 17, 12),
              _pool("r_w3", (2, 4, 6), (1, 3), (1, 1), (0, 1), 13), _mm("xnor", 4, 3, 60, 14),
              _mm("and", 6, 6, 32, 16), _pool("r_merge", (3, 4, 4), (2, 2), (2, 2), (0, 0), 15),
              _mm("xnor", 2, 7, 70, 17), _pool("r_h5", (2, 6, 3), (5, 1), (1, 1), (2, 0), 18),
              _mm("and", 7, 3, 25, 19)]


def test_resets_in_every_phase_then_bit_exact(tmp_path, build_dir):
    """reset_prob = 1: every other job is cut by a reset, the phases taken in turn; each job
    after a reset is bit-exact with the model's cycles; the reset rows are not failures."""
    rows = _run(tmp_path, build_dir, RESET_JOBS, reset_prob=1.0, seed=4)
    reset_rows = [r for r in rows if "reset" in r]
    assert [i for i, r in enumerate(rows) if "reset" in r] == [0, 2, 4, 6]
    assert {r["reset"] for r in reset_rows} == set(coverage.PHASES)
    for r in reset_rows:
        assert r["passed"] and r["mismatches"] == 0 and r["cycles"] is None
        assert r["cover"] == [f"reset:{r['reset']}"]
    for job, row in zip(RESET_JOBS[1::2], rows[1::2]):
        assert row["passed"] and row["mismatches"] == 0, row
        assert row["cycles"] == job.cycles(CFG) and "reset:after" in row["cover"], row
    assert rows[-1]["passed"] and "reset:after" not in rows[-1]["cover"]
    merged = coverage.merge(rows)
    assert all(merged["bins"][b] for b in coverage.GROUPS["reset"]), merged["missing"]


def test_backpressure_bins_and_resets_under_stalls(tmp_path, build_dir):
    """Random stalls, output freezes and resets: every finished job bit-exact; the output FIFO
    fills (a producer waits on its credit), input starves and output back-pressure is seen."""
    jobs = [_mm("xnor", 17, 19, 100, 21), _pool("s_h3", (3, 6, 8), (3, 1), (1, 1), (1, 0), 22),
            _mm("and", 11, 5, 61, 23), _pool("s_id", (2, 8, 9), (1, 1), (1, 1), (0, 0), 24),
            _mm("xnor", 9, 9, 50, 25)]
    rows = _run(tmp_path, build_dir, jobs, seed=2, idle_prob=0.2, stall_prob=0.3,
                freeze_prob=0.01, freeze_max=80, reset_prob=0.5)
    done = [r for r in rows if "reset" not in r]
    assert all(r["passed"] for r in done), [r for r in done if not r["passed"]]
    assert all(r["cycles"] >= j.cycles(CFG) for j, r in zip(jobs, rows) if "reset" not in r)
    merged = coverage.merge(rows)
    for name in ("fifo:full", "input:starved", "output:backpressure"):
        assert merged["bins"][name], (name, [r["cover"] for r in rows])


def test_broken_design_still_fails_back_to_back_with_resets(tmp_path, build_dir):
    jobs = RESET_JOBS[:5]
    rows = _run(tmp_path, build_dir, jobs, fault="xor", expect_fail=True, reset_prob=1.0,
                seed=4)
    done = [r for r in rows if "reset" not in r]
    xnor = [r for r in done if r["op"].startswith("xnor")]
    assert len(done) == 3 and xnor, rows
    assert all(r["mismatches"] > 0 and not r["passed"] for r in xnor), xnor


def test_sim_all_prints_and_keeps_the_coverage(tmp_path, capsys):
    """`sim all`: the merged coverage after the table, in --json and --coverage-json; with
    --reset-prob a stall-run job is cut by a reset (shown, not a failure); a reset chance
    outside 0..1 is refused before any work."""
    import json

    import sim.__main__ as sim_cli
    from hw.opfile import write_manifest

    jobs = [_mm("xnor", 3, 4, 20, 1), _mm("and", 5, 2, 33, 3),
            _pool("p_h3", (2, 4, 5), (3, 1), (1, 1), (1, 0), 5)]
    ops = []
    for i, job in enumerate(jobs):
        job.save(tmp_path / f"{i:04d}.npz")
        ops.append({"name": job.name, "kind": job.kind.value, "file": f"{i:04d}.npz"})
    write_manifest(tmp_path, ops)
    args = [x for name, v in CFG.to_dict().items() for x in (f"--{name.replace('_', '-')}",
                                                              str(v))]
    assert sim_cli.main(["all", "--golden", str(tmp_path), "--no-random", "--reset-prob",
                         "1.5", *args]) == 2
    assert "--reset-prob 1.5" in capsys.readouterr().err
    out_json, cov_json = tmp_path / "rows.json", tmp_path / "cov.json"
    rc = sim_cli.main(["all", "--golden", str(tmp_path), "--no-random", "--workers", "1",
                       "--reset-prob", "1", "--json", str(out_json), "--coverage-json",
                       str(cov_json), *args])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "reset:" in out and "3 passed, 0 failed" in out
    assert "coverage: " in out and " bins hit " in out
    cover = json.loads(cov_json.read_text())
    assert cover == json.loads(out_json.read_text())["coverage"] and cover["jobs"] == 6
    assert sum(cover["bins"][f"reset:{p}"] for p in coverage.PHASES) == 1
    assert cover["bins"]["reset:after"] == 1 and cover["bins"]["b2b:xnor->and"] == 1
