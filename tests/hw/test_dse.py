"""Design-space exploration (hw/cost/dse.py): the vectorized model equals the scalar functions,
the committed BinaryViT-S sweep is reproduced, the Pareto front is non-dominated (brute force),
and the CLI's errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from hw.cost import resources
from hw.config import ArrayConfig, bank_period, tile_period
from hw.cost.devices import get_device
from hw.cost.dse import (STACKED, ConfigGrid, ShapeTable, bram_of, config_at, default_simds,
                         pareto_front, predict_vec, sweep)
from hw.cost.network import load_network, network_cost
from hw.paths import REPORTS_DIR, RESOURCE_MODEL


def synthetic_model() -> dict:
    """Made-up coefficients in the format of hw/synth/data/resource_model.json (test data only: the
    tests check our arithmetic, not the fitted numbers)."""
    feats = resources.features(ArrayConfig())
    fams = {}
    for i, fam in enumerate(("ecp5", "ice40", "xc7")):
        fm = {}
        for key in ("lut", "ff", "carry", "dsp", "fmax_mhz"):
            names = list(feats[key])
            coef = [0.5 + 0.25 * j + 0.1 * i for j in range(len(names))]
            fm[key] = {"features": names, "coef": coef}
        fm["fmax_mhz"]["coef"] = [250.0, -8.0, -5.0]   # const, log2_pes, log2_banks
        fm["dsp"]["coef"] = [2.0]
        fams[fam] = fm
    return {"families": fams}


@pytest.fixture(scope="module")
def coeffs(tmp_path_factory):
    path = tmp_path_factory.mktemp("coeffs") / "resource_model.json"
    path.write_text(json.dumps(synthetic_model()))
    return path


@pytest.fixture(scope="module")
def tiny():
    return load_network("digits-tiny")


@pytest.fixture(scope="module")
def vit():
    return load_network("binaryvit-s")


def _random_configs(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield ArrayConfig(rows=int(rng.integers(1, 40)), cols=int(rng.integers(1, 40)),
                          simd=int(rng.choice([16, 32, 64, 128, 256])),
                          max_m=int(rng.choice([16, 64, 512])), max_n=int(rng.choice([16, 512])),
                          max_k=int(rng.choice([64, 2048])),
                          pool_row_depth=int(rng.choice([512, 8192])),
                          hold_banks=int(rng.choice([2, 3, 4])))


def test_vectorized_cycles_equal_scalar_network_cost(tiny):
    for cfg in _random_configs(25, 1):
        base = replace(cfg, rows=1, cols=1)
        table = ShapeTable(tiny, base)
        rows = np.array([cfg.rows, 1, 7])
        cols = np.array([cfg.cols, 3, 1])
        got = table.cycles(ConfigGrid(base, rows, cols))
        for r, c, g in zip(rows, cols, got):
            want = network_cost(tiny, replace(cfg, rows=int(r), cols=int(c)))["totals"]["cycles"]
            assert g == want


def test_vectorized_cycles_binaryvit_s(vit):
    cfg = ArrayConfig(rows=5, cols=9, simd=64)
    base = replace(cfg, rows=1, cols=1)
    got = ShapeTable(vit, base).cycles(ConfigGrid(base, np.array([5]), np.array([9])))
    assert got[0] == network_cost(vit, cfg)["totals"]["cycles"]


@pytest.mark.parametrize("option", [{"keep_weights": 1}, {"w_buffers": 2},
                                    {"w_buffers": 2, "a_buffers": 2}])
@pytest.mark.parametrize("pool_port", [0, 1])
def test_vectorized_cycles_with_kept_weights_and_two_buffers(tiny, vit, option, pool_port):
    """keep_weights 1 (each op's later M chunks load no W) and w_buffers 2 (the matmul jobs run
    as streamed sequences, a pool ending one on a single core; also with a_buffers 2, each
    job's A rows loaded ahead too) on the grid: every config's
    frame equals the scalar network_cost's, never above the frame without the option, and
    below it somewhere on each network."""
    for net, cfgs in ((tiny, list(_random_configs(6, 7))),
                      (vit, [ArrayConfig(rows=8, cols=8, simd=64, max_m=256, max_n=256,
                                         hold_banks=8, drain_rows=8, load_rows=8)])):
        saved = False
        for cfg in cfgs:
            cfg = replace(cfg, pool_port=pool_port, **option)
            base = replace(cfg, rows=1, cols=1, load_rows=1)
            rows, cols = np.array([cfg.rows, 2, 7]), np.array([cfg.cols, 3, 1])
            got = ShapeTable(net, base).cycles(ConfigGrid(base, rows, cols))
            one = replace(base, keep_weights=0, w_buffers=1, a_buffers=1)
            plain = ShapeTable(net, one).cycles(ConfigGrid(one, rows, cols))
            for r, c, g in zip(rows, cols, got):
                want = network_cost(net, replace(base, rows=int(r), cols=int(c)))
                assert g == want["totals"]["cycles"]
            assert (got <= plain).all()
            saved |= bool((got < plain).any())
        assert saved, net.name


def test_pool_lanes_per_column_on_the_grid(vit, coeffs):
    """L = F x C pool lanes: the grid's cycles and features equal the scalar ones of the real
    config, and the sweep takes F only where F x C fits one result beat (F <= min(D, R))."""
    base = ArrayConfig(rows=1, cols=1, simd=64, drain_rows=4)
    rows, cols = np.array([8, 4, 5]), np.array([8, 3, 16])
    model = resources.load_model(coeffs)["families"]
    for f in (2, 4):
        grid = ConfigGrid(base, rows, cols, lanes_per_col=f)
        assert grid.pool_lanes_eff.tolist() == (f * cols).tolist()
        got = ShapeTable(vit, base).cycles(grid)
        lut = predict_vec(grid, "ecp5", model)["lut"]
        for i, (r, c) in enumerate(zip(rows, cols)):
            cfg = config_at(base, r, c, f)
            assert cfg.pool_lanes == f * c
            assert got[i] == network_cost(vit, cfg)["totals"]["cycles"]
            assert lut[i] == resources.predict(cfg, "ecp5", model)["lut"]
    assert config_at(base, 8, 8, 1).pool_lanes == 0
    out = sweep(vit, get_device("ecp5-85"), model, [1, 2, 8], [8], [64],
                replace(base, drain_rows=2), progress=False, lanes_per_col=(1, 2))
    assert out["n"] == 3 + 2      # F = 2 needs R >= 2 with drain_rows 2
    assert list(zip(out["rows"], out["pool_lanes"])) == [(1, 8), (2, 8), (8, 8), (2, 16), (8, 16)]
    assert out["cycles"][4] < out["cycles"][2]           # more lanes, fewer pool cycles


def test_tile_period_one_formula_for_ints_and_arrays():
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(1, 65, 200), rng.integers(1, 65, 200)
    m, kw = rng.integers(1, 65, 200), rng.integers(1, 300, 200)
    drain = rng.integers(1, 9, 200)
    d_eff = np.minimum(drain, rows)
    got = tile_period(rows, cols, d_eff, m, kw)
    got_bank = bank_period(rows, cols, d_eff, m)
    for i in range(200):
        cfg = ArrayConfig(rows=int(rows[i]), cols=int(cols[i]), drain_rows=int(drain[i]))
        beats = -(-int(m[i]) // cfg.drain_rows_eff)
        want = cfg.tile_period(int(m[i]), int(kw[i]))
        assert type(want) is int and want == max(int(kw[i]), beats)
        assert got[i] == want
        want = cfg.bank_period(int(m[i]))
        assert type(want) is int and want == cfg.rows + cfg.cols - 2 + beats
        assert got_bank[i] == want
    grid = ConfigGrid(ArrayConfig(rows=1, cols=1, drain_rows=3), rows, cols)
    assert np.array_equal(grid.tile_period(7, 40),
                          tile_period(rows, cols, np.minimum(3, rows), 7, 40))
    assert np.array_equal(grid.bank_period(7), bank_period(rows, cols, np.minimum(3, rows), 7))


def test_config_grid_stacks_the_real_properties():
    base = ArrayConfig(rows=1, cols=1, simd=64, max_m=64, max_n=512, pool_row_depth=512)
    rows, cols = np.array([1, 3, 17, 64]), np.array([2, 64, 5, 1])
    grid = ConfigGrid(base, rows, cols)
    assert grid.simd == 64 and np.array_equal(grid.rows, rows) and np.array_equal(grid.cols, cols)
    for name in STACKED:
        want = [getattr(replace(base, rows=int(r), cols=int(c)), name) for r, c in zip(rows, cols)]
        assert getattr(grid, name).tolist() == want, name
    with pytest.raises(AttributeError):   # only what it lists: nothing imitated on the side
        grid.mm_read_latency


def test_vectorized_features_equal_scalar_features():
    for cfg in _random_configs(20, 4):
        base = replace(cfg, rows=1, cols=1)
        rows, cols = np.array([cfg.rows, 1, 40]), np.array([cfg.cols, 33, 1])
        vec = resources.features(ConfigGrid(base, rows, cols))
        for i, (r, c) in enumerate(zip(rows, cols)):
            one = resources.features(replace(cfg, rows=int(r), cols=int(c)))
            for key, feats in one.items():
                for name, val in feats.items():
                    v = np.broadcast_to(vec[key][name], rows.shape)[i]
                    assert v == val and type(val) in (int, float), (cfg, key, name)


def test_vectorized_resources_equal_predict(coeffs):
    model = json.loads(coeffs.read_text())["families"]
    for fam in ("ecp5", "ice40", "xc7"):
        for cfg in _random_configs(20, 2):
            base = replace(cfg, rows=1, cols=1)
            v = predict_vec(ConfigGrid(base, np.array([cfg.rows]), np.array([cfg.cols])), fam,
                            model)
            p = resources.predict(cfg, fam, model)
            for key in ("lut", "ff", "dsp", "fmax_mhz"):
                assert v[key][0] == p[key], (fam, cfg, key)
            assert bram_of(cfg, fam) == resources.bram_estimate(cfg, fam)


def _small_sweep(tiny, coeffs, dev="ecp5-25"):
    model = json.loads(coeffs.read_text())["families"]
    base = ArrayConfig(max_m=64, max_n=128, max_k=256, pool_row_depth=1024)
    return sweep(tiny, get_device(dev), model, range(1, 13), range(1, 13), [16, 32, 64], base,
                 progress=False)


def test_pareto_front_is_non_dominated_brute_force(tiny, coeffs):
    out = _small_sweep(tiny, coeffs)
    fits = out["fits"]
    assert 0 < fits.sum() < out["n"]
    front = set(pareto_front(out["lut"], out["fps"], fits).tolist())
    lut, fps = out["lut"], out["fps"]
    feas = np.flatnonzero(fits)
    for i in feas:
        dominated = any((lut[j] <= lut[i] and fps[j] >= fps[i]
                         and (lut[j] < lut[i] or fps[j] > fps[i])) for j in feas)
        tie_earlier = any(lut[j] == lut[i] and fps[j] == fps[i] and j < i for j in feas)
        assert (i in front) == (not dominated and not tie_earlier), i
    assert all(fits[i] for i in front)


def test_sweep_values_match_scalar_models(tiny, coeffs):
    out = _small_sweep(tiny, coeffs)
    model = json.loads(coeffs.read_text())["families"]
    dev = get_device("ecp5-25")
    base = ArrayConfig(max_m=64, max_n=128, max_k=256, pool_row_depth=1024)
    for i in (0, 17, 100, 431):
        cfg = replace(base, rows=int(out["rows"][i]), cols=int(out["cols"][i]),
                      simd=int(out["simd"][i]))
        cost = network_cost(tiny, cfg)["totals"]
        assert out["cycles"][i] == cost["cycles"]
        assert out["fps"][i] == pytest.approx(cost["frames_per_s"])
        p = resources.predict(cfg, "ecp5", model)
        assert out["lut"][i] == p["lut"]
        fits = (p["lut"] <= dev.lut and p["ff"] <= dev.ff and p["bram"] <= dev.bram
                and p["dsp"] <= dev.dsp)
        assert bool(out["fits"][i]) == fits


def test_default_simds():
    assert default_simds(ArrayConfig()) == [16, 32, 64, 128, 256, 512]
    assert default_simds(ArrayConfig(simd=8, pool_bits=8)) == [8, 16, 32, 64, 128, 256, 512]


# ---- CLI ----------------------------------------------------------------------------------------
def _run(args):
    from hw.__main__ import main

    return main(args)


def test_cli_dse_writes_front(tmp_path, coeffs, capsys):
    rc = _run(["dse", "--network", "digits-tiny", "--device", "ecp5-25", "--coeffs", str(coeffs),
               "--rows-range", "1", "8", "--cols-range", "1", "8", "--simds", "16", "32",
               "--max-m", "64", "--max-n", "128", "--max-k", "256", "--pool-row-depth", "1024",
               "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "configs/s" in out
    doc = json.loads((tmp_path / "dse_ecp5-25.json").read_text())
    assert doc["configs"] == 128 and doc["front"]
    assert (tmp_path / "dse_ecp5-25.png").stat().st_size > 1000
    luts = [r["lut"] for r in doc["front"]]
    fps = [r["fps"] for r in doc["front"]]
    assert luts == sorted(luts) and fps == sorted(fps)


@pytest.mark.parametrize("flag", [("--keep-weights", "1"), ("--w-buffers", "2")])
def test_cli_dse_sweeps_with_kept_weights_or_two_buffers(tmp_path, coeffs, capsys, tiny, flag):
    """The sweep takes --keep-weights 1 and --w-buffers 2: the JSON's limits hold the option
    and its fastest config's cycles are network_cost's of that config."""
    rc = _run(["dse", "--network", "digits-tiny", "--device", "ecp5-25", "--coeffs", str(coeffs),
               "--rows-range", "1", "6", "--cols-range", "1", "6", "--simds", "32",
               "--max-m", "64", "--max-n", "128", "--max-k", "256", "--pool-row-depth", "1024",
               *flag, "--out", str(tmp_path), "--quiet"])
    assert rc == 0, capsys.readouterr()
    doc = json.loads((tmp_path / "dse_ecp5-25.json").read_text())
    base = ArrayConfig.from_dict(doc["limits"])
    assert (base.keep_weights, base.w_buffers) == ((1, 1) if flag[0] == "--keep-weights"
                                                   else (0, 2))
    best = doc["fastest"]
    cfg = replace(base, rows=best["rows"], cols=best["cols"], simd=best["simd"])
    assert best["cycles"] == network_cost(tiny, cfg)["totals"]["cycles"]


def test_cli_dse_sweeps_pool_lanes_per_column(tmp_path, coeffs, capsys):
    args = ["dse", "--network", "digits-tiny", "--device", "ecp5-25", "--coeffs", str(coeffs),
            "--rows-range", "1", "4", "--cols-range", "1", "4", "--simds", "16",
            "--max-m", "64", "--max-n", "128", "--max-k", "256", "--pool-row-depth", "1024",
            "--out", str(tmp_path), "--quiet"]
    assert _run(args + ["--pool-lanes-per-col", "1", "2"]) == 0
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "dse_ecp5-25.json").read_text())
    assert doc["configs"] == 16 + 12 and doc["grid"]["pool_lanes_per_col"] == [1, 2]
    assert " L " in out and all("pool_lanes" in r for r in doc["front"])
    assert "--pool-lanes-per-col 1 2" in doc["command"]
    assert _run(args + ["--pool-lanes-per-col", "3"]) == 2
    assert "give values up to 2 or raise --drain-rows" in capsys.readouterr().err
    assert _run(args + ["--pool-lanes", "4"]) == 2
    assert "drop --pool-lanes 4" in capsys.readouterr().err


def test_cli_dse_nothing_fits(tmp_path, coeffs, capsys):
    rc = _run(["dse", "--network", "digits-tiny", "--device", "ice40-up5k", "--coeffs",
               str(coeffs), "--rows-range", "1", "4", "--cols-range", "1", "4", "--simds", "16",
               "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 3
    assert "no config of the sweep fits ice40-up5k" in err and "over by" in err


def test_cli_unknown_device_and_network(coeffs, capsys):
    assert _run(["dse", "--network", "digits-tiny", "--device", "nope", "--coeffs",
                 str(coeffs)]) == 2
    err = capsys.readouterr().err
    assert "unknown device 'nope'" in err and "ecp5-85" in err
    assert _run(["dse", "--network", "nope", "--device", "ecp5-85", "--coeffs",
                 str(coeffs)]) == 2
    assert "valid networks: digits-tiny, binaryvit-s" in capsys.readouterr().err


def test_cli_dse_without_resource_model(tmp_path, capsys):
    rc = _run(["dse", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
               str(tmp_path / "missing.json"), "--quiet"])
    assert rc == 2
    assert "python -m hw fit" in capsys.readouterr().err


def test_use_fmax_clocks_each_config_at_the_model_fmax(tiny, coeffs):
    model = json.loads(coeffs.read_text())["families"]
    base = ArrayConfig(max_m=64, max_n=128, max_k=256, pool_row_depth=1024)
    out = sweep(tiny, get_device("ecp5-85"), model, [1, 4], [2, 8], [32], base, use_fmax=True,
                progress=False)
    for i in range(out["n"]):
        cfg = replace(base, rows=int(out["rows"][i]), cols=int(out["cols"][i]), simd=32)
        fmax = resources.predict(cfg, "ecp5", model)["fmax_mhz"]
        assert out["clock_mhz"][i] == fmax
        assert out["fps"][i] == pytest.approx(fmax * 1e6 / network_cost(tiny, cfg)["totals"]
                                              ["cycles"])


def test_sweep_reproduces_the_committed_binaryvit_s_result(vit):
    """The committed reports/binaryvit-s/dse_ecp5-85.json (`python -m hw dse --network
    binaryvit-s --device ecp5-85 --rows-range 1 64 --cols-range 1 64`) with the committed
    resource model: same configs, same fit count, same front and fastest record, exactly."""
    doc = json.loads((REPORTS_DIR / "binaryvit-s" / "dse_ecp5-85.json").read_text())
    model = resources.load_model(RESOURCE_MODEL)["families"]
    base = ArrayConfig.from_dict(doc["limits"])
    assert doc["grid"] == {"rows": [1, 64], "cols": [1, 64], "simd": default_simds(base),
                           "hold_banks": [base.hold_banks]}
    out = sweep(vit, get_device("ecp5-85"), model, range(1, 65), range(1, 65),
                doc["grid"]["simd"], base, progress=False)
    assert out["n"] == doc["configs"] == 64 * 64 * 6
    assert int(out["fits"].sum()) == doc["fit"]

    def record(i):
        rec = {k: out[k][i].item() for k in doc["fastest"]}
        rec["fmax_mhz"] = None if np.isnan(rec["fmax_mhz"]) else rec["fmax_mhz"]
        return rec

    front = pareto_front(out["lut"], out["fps"], out["fits"])
    assert [record(i) for i in front] == doc["front"]
    assert record(front[np.argmax(out["fps"][front])]) == doc["fastest"]


def test_an_error_in_the_vectorized_formulas_surfaces(tiny, coeffs, monkeypatch):
    """No silent scalar fallback: a formula numpy cannot evaluate raises out of the sweep."""
    import hw.cost.resources as res

    def scalar_only(cfg):
        return {"lut": {"const": float(cfg.rows)}}    # float() of an array: TypeError
    monkeypatch.setattr(res, "features", scalar_only)
    with pytest.raises(TypeError):
        _small_sweep(tiny, coeffs)


def test_sweep_over_hold_banks_equals_the_scalar_model(tiny, coeffs):
    """A hold_banks axis (2 and 4): every config's cycles are network_cost's of that config,
    four banks never take more cycles (beyond one per job where their deeper output FIFO
    goes to block RAM: a cycle more of result latency), and they count more flip-flops."""
    model = json.loads(coeffs.read_text())["families"]
    base = ArrayConfig(max_m=64, max_n=128, max_k=256, pool_row_depth=1024)
    out = sweep(tiny, get_device("ecp5-25"), model, range(1, 9, 3), range(2, 9, 3), [32], base,
                progress=False, hold_banks=[2, 4])
    assert out["n"] == 3 * 3 * 2 and sorted(set(out["hold_banks"].tolist())) == [2, 4]
    two, four = out["hold_banks"] == 2, out["hold_banks"] == 4
    assert (out["ff"][four] > out["ff"][two]).all()
    costs = {}
    for i in range(out["n"]):
        cfg = replace(base, rows=int(out["rows"][i]), cols=int(out["cols"][i]), simd=32,
                      hold_banks=int(out["hold_banks"][i]))
        totals = network_cost(tiny, cfg)["totals"]
        assert out["cycles"][i] == totals["cycles"]
        costs[cfg.rows, cfg.cols, cfg.hold_banks] = (totals["cycles"], totals["jobs"],
                                                     cfg.result_latency)
    for (r, c, n), (cyc4, jobs, lat4) in costs.items():
        if n == 4:
            cyc2, _, lat2 = costs[r, c, 2]
            assert cyc4 <= cyc2 + jobs * (lat4 - lat2), (r, c)


def test_load_rows_0_on_the_grid_is_each_configs_largest(vit, coeffs, capsys):
    """load_rows 0: G = the largest power of two dividing R and C, per config of the grid;
    the grid's cycles and features equal those of the real configs; a fixed G > 1 is refused
    (it does not divide every swept R and C)."""
    base = ArrayConfig(rows=1, cols=1, simd=64, load_rows=0, max_m=256, max_n=256)
    rows, cols = np.array([8, 6, 3, 8, 12]), np.array([8, 4, 5, 16, 8])
    grid = ConfigGrid(base, rows, cols)
    assert grid.load_rows_eff.tolist() == [8, 2, 1, 8, 4]
    got = ShapeTable(vit, base).cycles(grid)
    vec = resources.features(grid)
    for i, (r, c) in enumerate(zip(rows, cols)):
        cfg = replace(base, rows=int(r), cols=int(c))
        assert got[i] == network_cost(vit, cfg)["totals"]["cycles"]
        assert vec["ff"]["mem_words"][i] == resources.features(cfg)["ff"]["mem_words"]
    one = ShapeTable(vit, replace(base, load_rows=1)).cycles(
        ConfigGrid(replace(base, load_rows=1), rows, cols))
    assert (got[[0, 1, 3, 4]] < one[[0, 1, 3, 4]]).all() and got[2] == one[2]
    rc = _run(["dse", "--network", "digits-tiny", "--device", "ecp5-25", "--coeffs",
               str(coeffs), "--load-rows", "2", "--quiet"])
    assert rc == 2
    assert "--load-rows 2 does not divide every swept R and C" in capsys.readouterr().err


@pytest.mark.parametrize("folder, w_buffers", [("binaryvit-s-options", 1),
                                               ("binaryvit-s-options-wb2", 2)])
def test_committed_options_sweep_fastest_is_the_models(vit, folder, w_buffers):
    """reports/binaryvit-s-options/dse_ecp5-85.json and the same sweep with two weight buffers
    (`make report`: the throughput options swept, load_rows 0, each config at its estimated
    Fmax): its fastest record is what the cycle and resource models give that config now
    (cycles, LUT, FF, BRAM, Fmax, frames/s)."""
    doc = json.loads((REPORTS_DIR / folder / "dse_ecp5-85.json").read_text())
    base = ArrayConfig.from_dict(doc["limits"])
    assert base.load_rows == 0 and doc["clock"] == "resource-model Fmax per config"
    assert base.w_buffers == w_buffers
    best = doc["fastest"]
    cfg = config_at(replace(base, simd=best["simd"], hold_banks=best["hold_banks"]),
                    best["rows"], best["cols"], best["pool_lanes"] // best["cols"])
    assert cfg.load_rows_eff == best["load_rows"]
    model = resources.load_model(RESOURCE_MODEL)["families"]
    est = resources.predict(cfg, "ecp5", model)
    cycles = network_cost(vit, cfg)["totals"]["cycles"]
    assert (best["cycles"], best["lut"], best["ff"], best["bram"]) == \
        (cycles, est["lut"], est["ff"], resources.bram_estimate(cfg, "ecp5"))
    assert best["fmax_mhz"] == est["fmax_mhz"] == best["clock_mhz"]
    assert best["fps"] == pytest.approx(best["clock_mhz"] * 1e6 / cycles, rel=1e-12)
