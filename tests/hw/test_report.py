"""Reports (hw/cost/report.py, python -m hw report / network): files, numbers equal to the model,
sources stated, RTL check, clear errors."""

from __future__ import annotations

import json

import pytest

from hw.cost import resources
from hw.config import ArrayConfig
from hw.cost.cycles import matmul_cycles, pool_cycles
from hw.cost.network import load_network, network_cost
from hw.cost.report import breakdown, op_category, rtl_check


def _run(args):
    from hw.__main__ import main

    return main(args)


def test_op_category():
    assert op_category("stages.1.blocks.0.attn.b0.h1.scores", "matmul") == "attn.scores"
    assert op_category("stages.2.merge.conv", "matmul") == "merge.conv"
    assert op_category("stages.0.blocks.2.pool_h5", "pool") == "pool_h5"
    assert op_category("gap", "pool") == "gap"


def test_breakdown_sums_to_total():
    net = load_network("digits-tiny")
    cost = network_cost(net, ArrayConfig())
    groups = breakdown(cost)
    assert sum(g["cycles"] for g in groups.values()) == cost["totals"]["cycles"]
    assert sum(g["ops"] for g in groups.values()) == len(net.ops)


def test_report_files_and_numbers(tmp_path, coeffs, capsys):
    sim = tmp_path / "sim.json"
    cfg = ArrayConfig(rows=2, cols=3, simd=16)
    rows = [{"op": "a", "kind": "matmul", "shape": {"m": 5, "n": 7, "k": 40},
             "cycles": matmul_cycles(cfg, 5, 7, 40), "passed": True},
            {"op": "b", "kind": "pool", "shape": {"planes": 2, "h": 6, "w": 5, "kernel": [3, 1],
                                                  "stride": [1, 1], "padding": [1, 0]},
             "cycles": pool_cycles(cfg, 2, 6, 5, (3, 1), (1, 1), (1, 0)) + 1, "passed": True}]
    sim.write_text(json.dumps({"config": cfg.to_dict(), "rows": rows}))
    out = tmp_path / "rep"
    rc = _run(["report", "--network", "digits-tiny", "--rows", "4", "--cols", "4", "--simd", "32",
               "--device", "ecp5-85", "--coeffs", str(coeffs), "--out", str(out),
               "--sim-json", str(sim)])
    assert rc == 0, capsys.readouterr().err
    for name in ("report.md", "report.json", "cycles_breakdown.png", "throughput_vs_size.png",
                 "device_utilisation.png"):
        assert (out / name).stat().st_size > 500, name
    doc = json.loads((out / "report.json").read_text())
    from hw.cost.memory_bound import DEFAULT_BANDWIDTH

    want = network_cost(load_network("digits-tiny"), ArrayConfig(rows=4, cols=4, simd=32),
                        DEFAULT_BANDWIDTH)           # the report's default off-chip bandwidth
    assert doc["cost"]["totals"] == want["totals"]
    assert [r["cycles"] for r in doc["cost"]["ops"]] == [r["cycles"] for r in want["ops"]]
    est = resources.estimate(ArrayConfig(rows=4, cols=4, simd=32), "ecp5-85",
                             coeffs_path=coeffs)
    assert doc["resources"]["lut"] == est["lut"]
    (chk,) = doc["rtl_checks"]
    assert chk["jobs"] == 2 and chk["exact"] == 1 and chk["max_abs_diff"] == 1
    assert "network" not in chk
    md = (out / "report.md").read_text()
    assert "python -m hw report --network digits-tiny --device ecp5-85 --rows 4" in md
    assert f"| cycles per frame | {want['totals']['cycles']:,} | model |" in md
    assert "**1 equal the model exactly**" in md
    assert "per-element post-processing unit" in md and "host CPU" in md
    assert "resource model" in md


def _no_committed_model_or_sim(tmp_path, monkeypatch):
    """As in a fresh checkout before `python -m hw fit` and `make report`: no fitted model and no
    RTL sim results at the default paths."""
    from hw.cost import report

    monkeypatch.setattr(resources, "RESOURCE_MODEL", tmp_path / "none.json")
    (tmp_path / "nosim").mkdir()
    monkeypatch.setattr(report, "SIM_DIR", tmp_path / "nosim")


def test_report_without_model_or_sim(tmp_path, capsys, monkeypatch):
    _no_committed_model_or_sim(tmp_path, monkeypatch)
    out = tmp_path / "rep"
    rc = _run(["report", "--network", "digits-tiny", "--device", "ecp5-85", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    md = (out / "report.md").read_text()
    assert "Not available:" in md and "python -m hw fit" in md
    assert "No RTL simulation results present" in md
    assert rtl_check(tmp_path / "none_sim.json") is None
    # a file named on the command line must exist: an error, not a silent "not available"
    for flag in ("--coeffs", "--sim-json"):
        assert _run(["report", "--network", "digits-tiny", "--device", "ecp5-85", "--out",
                     str(out), flag, str(tmp_path / "none_sim.json")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "none_sim.json" in err and flag in err


def test_report_config_does_not_fit(tmp_path, coeffs, capsys):
    rc = _run(["report", "--network", "digits-tiny", "--rows", "64", "--cols", "64", "--simd",
               "256", "--device", "ice40-up5k", "--coeffs", str(coeffs), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 3
    assert "does not fit ice40-up5k" in err and "over by" in err


def test_report_bad_inputs(tmp_path, capsys):
    assert _run(["report", "--network", "vgg", "--device", "ecp5-85", "--out",
                 str(tmp_path)]) == 2
    assert "valid networks: digits-tiny, binaryvit-s" in capsys.readouterr().err
    assert _run(["report", "--network", "digits-tiny", "--device", "virtex9", "--out",
                 str(tmp_path)]) == 2
    assert "valid devices:" in capsys.readouterr().err
    assert _run(["report", "--network", "digits-tiny", "--device", "ecp5-85", "--simd", "12",
                 "--out", str(tmp_path)]) == 2
    assert "simd must be a power of two" in capsys.readouterr().err


def test_network_command(capsys):
    assert _run(["network", "--network", "digits-tiny", "--rows", "2", "--cols", "2"]) == 0
    out = capsys.readouterr().out
    cost = network_cost(load_network("digits-tiny"), ArrayConfig(rows=2, cols=2))
    assert f"{cost['totals']['cycles']:,} cycles" in out
    assert _run(["network", "--network", "digits-tiny", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["cycles"] == network_cost(load_network("digits-tiny"),
                                                   ArrayConfig())["totals"]["cycles"]


def test_network_job_cannot_be_split(capsys):
    assert _run(["network", "--network", "digits-tiny", "--pool-max-kernel", "3"]) == 2
    assert "pool_max_kernel=3" in capsys.readouterr().err


def test_rtl_network_totals(tmp_path, capsys, monkeypatch):
    """A sim file holding exactly the network's ops on the report's config is compared as a
    whole frame; one cycle off anywhere shows as DIFFERENT."""
    cfg = ArrayConfig()
    cost = network_cost(load_network("digits-tiny"), cfg)
    rows = []
    for r in cost["ops"]:
        op = next(o for o in load_network("digits-tiny").ops if o.name == r["name"])
        shape = {k: v for k, v in op.shape.items() if k != "bits"}   # as the sim rows hold it
        rows.append({"op": op.name, "kind": op.kind.value, "shape": shape, "cycles": r["cycles"]})
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"config": cfg.to_dict(), "rows": rows}))
    rows[3] = {**rows[3], "cycles": rows[3]["cycles"] + 1}
    bad.write_text(json.dumps({"config": cfg.to_dict(), "rows": rows}))
    out = tmp_path / "rep"
    _no_committed_model_or_sim(tmp_path, monkeypatch)
    assert _run(["report", "--network", "digits-tiny", "--device", "ecp5-85", "--out", str(out),
                 "--sim-json", str(good), str(bad)]) == 0, capsys.readouterr().err
    doc = json.loads((out / "report.json").read_text())
    g, b = doc["rtl_checks"]
    assert g["network"] == {"measured_total": cost["totals"]["cycles"],
                            "model_total": cost["totals"]["cycles"], "equal": True}
    assert b["network"]["equal"] is False and b["exact"] == b["jobs"] - 1
    md = (out / "report.md").read_text()
    assert "(equal)" in md and "(DIFFERENT)" in md


def test_committed_network_sim_matches_model():
    """reports/sim/digits_tiny_network.json (the digits network's golden ops simulated in
    Icarus, see reports/sim/README.md), when present, agrees with the model op for op."""
    from hw.cost.report import SIM_DIR

    path = SIM_DIR / "digits_tiny_network.json"
    if not path.is_file():
        pytest.skip(f"{path} not generated")
    chk = rtl_check(path)
    assert chk["measured"] == chk["jobs"] == chk["exact"] > 0


def test_report_with_synthesis_records(tmp_path, coeffs, monkeypatch, capsys):
    """With synthesis records (faked here, in the committed format) the report plots LUT
    estimate vs synthesis and includes the held-out error table with the measured numbers."""
    def rec(r, c, s, lut, held):
        cfg = ArrayConfig(rows=r, cols=c, simd=s)
        return {"device": "ecp5-85", "config": cfg.to_dict(), "rows": r, "cols": c, "simd": s,
                "lut": lut, "ff": 2 * lut, "carry": 10, "bram": 40.0, "dsp": 2,
                "fmax_mhz": 120.0, "held_out": held, "command": "test"}
    recs = [rec(2, 2, 32, 3001, False), rec(4, 4, 32, 9001, False), rec(3, 5, 32, 12345, True)]
    monkeypatch.setattr(resources, "load_records", lambda *a, **k: recs)
    out = tmp_path / "rep"
    assert _run(["report", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
                 str(coeffs), "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / "lut_vs_synthesis.png").stat().st_size > 1000
    md = (out / "report.md").read_text()
    assert "3 synthesis records of the ecp5 family" in md
    assert "| ecp5-85 | 3x5x32 | 12345 |" in md       # the held-out row, measured LUT
    doc = json.loads((out / "report.json").read_text())
    assert [p["lut"] for p in doc["synthesis_points"]] == [3001, 9001, 12345]


def test_fmax_vs_size_lists_every_placed_record_of_the_device():
    """The report's Fmax table is exactly the committed placed-and-routed ECP5-85 records."""
    import json

    from hw.cost.devices import get_device
    from hw.cost.report import fmax_vs_size
    from hw.paths import SYNTH_DATA_DIR as DATA_DIR

    want = []
    for path in list(DATA_DIR.glob("synth_*.jsonl")) + list(DATA_DIR.glob("fmax_array_*.jsonl")):
        want += [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    want = sorted(r["fmax_mhz"] for r in want
                  if r.get("device") == "ecp5-85" and r.get("fmax_mhz") and "error" not in r)
    rows = fmax_vs_size(get_device("ecp5-85"))
    assert sorted(r["fmax_mhz"] for r in rows) == want and len(want) >= 3
    assert {r["component"] for r in rows} == {"top", "array"}
    assert fmax_vs_size(get_device("xc7a100t")) == []          # synthesis only, no P&R


def test_measured_clock_is_the_lowest_placement_of_exactly_this_config(tmp_path, monkeypatch):
    """measured_clocks reads the committed P&R records of the report's exact config (one group
    per router); the report prints frames/s at the lowest; a config without one says so."""
    import json as _json

    import hw.paths
    from hw.cost.devices import get_device
    from hw.cost.report import _measured_bullet, _measured_rows, measured_clocks

    cfg = ArrayConfig()
    rec = lambda seed, f, router=None, config=cfg.to_dict(): {
        "device": "ecp5-85", "config": config, "rtl_revision": "r", "component": "top",
        "fmax_mhz": f, "flags": {"nextpnr": f"--85k --freq 200 --seed {seed} --timing-allow-fail"
                                 + (f" --router {router}" if router else "")}}
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text("".join(_json.dumps(r) + "\n" for r in [
        rec(1, 140.0), rec(2, 130.0), rec(1, 150.0, "router2"),
        rec(1, 99.0, config={**cfg.to_dict(), "rows": 2})]))
    monkeypatch.setattr(hw.paths, "SYNTH_DATA_DIR", data)
    got = measured_clocks(cfg, get_device("ecp5-85"), 1_000_000)
    assert [(m["router"], m["seeds"], m["min_mhz"]) for m in got] == \
        [("router1", {1: 140.0, 2: 130.0}, 130.0), ("router2", {1: 150.0}, 150.0)]
    assert got[0]["frames_per_s_at_min"] == pytest.approx(130.0)
    doc = {"measured_clocks": got}
    assert "130 MHz with router1 (seed 1: 140, seed 2: 130 MHz), 130 frames/s" in \
        _measured_bullet(doc)
    assert _measured_rows(doc)[1].startswith("| frames/s at the measured Fmax 150 MHz (the lowest "
                                             "of 1 nextpnr placement(s), router2) | 150 |")
    none = measured_clocks(ArrayConfig(rows=3), get_device("ecp5-85"), 1000)
    assert none == [] and "not measured" in _measured_bullet({"measured_clocks": none})


def test_committed_report_quotes_the_default_configs_lowest_seed():
    """reports/digits-tiny (4x4x32, the default config) quotes the lowest Fmax of the committed
    seed records of that config, recomputed here from the record files."""
    import json as _json

    from hw.paths import REPO, SYNTH_DATA_DIR as DATA_DIR

    import re

    default = ArrayConfig().to_dict()
    # each flow: the nextpnr flags its records have, and whether they rip up / weight the placer
    flows = {"router1": ("--freq 200 ", False, False),
             "router1 --freq 150 --tmg-ripup": ("--freq 150 ", True, False),
             "router1 --placer-timing-weight 150": ("--freq 200 ", False, True)}
    doc = _json.loads((REPO / "reports/digits-tiny/report.json").read_text())
    assert sorted(m["router"] for m in doc["measured_clocks"]) == sorted(flows)
    for m in doc["measured_clocks"]:
        freq, ripup, weighted = flows[m["router"]]
        placed = {int(re.search(r"--seed (\d+)", r["flags"]["nextpnr"]).group(1)): r["fmax_mhz"]
                  for p in DATA_DIR.glob("*.jsonl")
                  for r in map(_json.loads, p.read_text().splitlines())
                  if r.get("component", "top") == "top" and r.get("fmax_mhz")
                  and r["device"] == "ecp5-85" and ArrayConfig.from_dict(r["config"]).to_dict() == default
                  and freq in r["flags"]["nextpnr"]
                  and ("--tmg-ripup" in r["flags"]["nextpnr"]) == ripup
                  and ("--placer-heap-timingweight 150" in r["flags"]["nextpnr"]) == weighted}
        assert len(placed) >= 3 and m["min_mhz"] == min(placed.values())
        assert {int(k): v for k, v in m["seeds"].items()} == placed


def test_report_offchip_section_equals_the_memory_bound_model(tmp_path, coeffs, capsys):
    """--bandwidth-bpc and --batch reach the report: its off-chip totals are those of
    hw.cost.memory_bound on the same ops (at the config clock and at the estimated Fmax, where a
    bytes-per-cycle bandwidth gives the same cycles), every batch row is there, and the
    markdown names the bandwidth's source; the compute-only numbers are unchanged."""
    from hw.cost.memory_bound import Bandwidth, memory_bound_cost

    out = tmp_path / "rep"
    cfg = ArrayConfig(rows=4, cols=4, simd=32)
    rc = _run(["report", "--network", "digits-tiny", "--rows", "4", "--cols", "4", "--simd", "32",
               "--device", "ecp5-85", "--coeffs", str(coeffs), "--out", str(out),
               "--bandwidth-bpc", "0.5", "--batch", "4"])
    printed = capsys.readouterr().out
    assert rc == 0
    doc = json.loads((out / "report.json").read_text())
    net = load_network("digits-tiny")
    ops = [(op, op.total_cycles(cfg)) for op in net.ops]
    want = memory_bound_cost(ops, cfg, Bandwidth(0.5, "B/cycle"), 4)["totals"]
    off = doc["offchip"]
    assert off["at_clock"]["cycles_per_frame"] == pytest.approx(want["cycles_per_frame"])
    assert off["at_clock"]["memory_bound_ops"] == want["memory_bound_ops"] > 0
    assert off["at_clock"]["bytes_per_frame"] == pytest.approx(want["bytes_per_frame"])
    assert doc["cost"]["totals"]["cycles"] == network_cost(net, cfg)["totals"]["cycles"]
    assert [r["batch"] for r in off["batches"]] == [1, 2, 4, 8, 16, 32]
    fmax = off["fmax_mhz"]
    assert fmax and off["at_fmax"]["cycles_per_frame"] == pytest.approx(want["cycles_per_frame"])
    assert off["at_fmax"]["frames_per_s"] == pytest.approx(fmax * 1e6 / want["cycles_per_frame"])
    md = (out / "report.md").read_text()
    assert "## Off-chip bandwidth and batch" in md
    assert "| off-chip bandwidth | 0.5 B/cycle | given on the command line |" in md
    assert f"frames/s at the estimated Fmax {fmax:g} MHz" in md
    assert "--bandwidth-bpc 0.5 --batch 4" in md
    assert "ops memory-bound" in printed and "batch 4" in printed


def test_report_default_bandwidth_is_the_stated_assumption(tmp_path, coeffs, capsys):
    out = tmp_path / "rep"
    assert _run(["report", "--network", "digits-tiny", "--device", "ecp5-85", "--coeffs",
                 str(coeffs), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "| off-chip bandwidth | 1.6 GB/s | assumption: one 16-bit DDR3" in md
    assert "(assumed)" in capsys.readouterr().out
