"""``python -m hw seeds``: the nextpnr seed spread of synthesis records (hw/synth/seeds.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hw.config import ArrayConfig
from hw.synth.seeds import seed_spreads

REPO = Path(__file__).resolve().parents[2]
CFG = ArrayConfig().to_dict()


def _rec(seed, fmax, rev="aaaa", component="top", config=CFG, nextpnr=True, router=None,
         freq=200, tmg_ripup=False):
    flags = {"yosys": "synth_ecp5 -nowidelut"}
    if nextpnr:
        flags["nextpnr"] = f"--85k --freq {freq} --seed {seed} --timing-allow-fail" + \
            (f" --router {router}" if router else "") + (" --tmg-ripup" if tmg_ripup else "")
    return {"device": "ecp5-85", "config": config, "rtl_revision": rev, "component": component,
            "fmax_mhz": fmax if nextpnr else None, "flags": flags,
            "pnr": {"critical_path": {"from": f"a{seed}", "to": f"b{seed}"}}}


def _write(path, recs):
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_groups_and_summary_by_hand(tmp_path):
    _write(tmp_path / "synth_x.jsonl", [
        _rec(1, 151.0), _rec(5, 140.0, component="array"), _rec(9, None, nextpnr=False),
        _rec(1, 120.0, rev="bbbb"), _rec(1, 130.0, config={**CFG, "rows": 2})])
    _write(tmp_path / "seeds_x.jsonl", [_rec(3, 150.0), _rec(2, 149.0), _rec(1, 151.0)])
    groups = seed_spreads(tmp_path / "*.jsonl")
    assert [len(g.runs) for g in groups] == [3, 1, 1]
    top = groups[0]
    assert [r.seed for r in top.runs] == [1, 2, 3]            # seed 1 twice, same Fmax: once
    assert top.summary() == {"seeds": 3, "min": 149.0, "median": 150.0, "mean": 150.0,
                             "max": 151.0, "target_mhz": 150.0, "at_target": 2}
    assert top.label == "4x4x32" and groups[1].label in ("4x4x32", "2x4x32")
    assert {g.rtl_revision for g in groups} == {"aaaa", "bbbb"}


def test_a_single_module_record_is_labelled_so(tmp_path):
    """A record written before the core built from parts became the default (no
    ``core_parts`` in its config) is its own group, labelled core_parts=0."""
    old = {k: v for k, v in CFG.items() if k != "core_parts"}
    _write(tmp_path / "synth_x.jsonl", [_rec(1, 151.0), _rec(1, 140.0, config=old)])
    got = {g.label: g.runs[0].fmax_mhz for g in seed_spreads(tmp_path / "*.jsonl")}
    assert got == {"4x4x32": 151.0, "4x4x32 (core_parts=0)": 140.0}


def test_another_router_is_another_group(tmp_path):
    """The same seed routed by router2 is another measurement, not a second Fmax of it."""
    _write(tmp_path / "a.jsonl", [_rec(1, 151.0), _rec(2, 149.0), _rec(1, 120.0, router="router2")])
    groups = seed_spreads(tmp_path / "*.jsonl")
    assert [(g.router, [r.fmax_mhz for r in g.runs]) for g in groups] == \
        [(None, [151.0, 149.0]), ("router2", [120.0])]
    assert groups[1].label == "4x4x32, nextpnr router2" and groups[0].label == "4x4x32"


def test_another_target_or_timing_ripup_is_another_group(tmp_path):
    """The same seed with --freq 150 and --tmg-ripup is another flow: its own group, labelled
    with what differs from the default flow (the device's --freq 200 is not spelled)."""
    _write(tmp_path / "a.jsonl", [_rec(1, 145.0), _rec(2, 148.0),
                                  _rec(1, 152.8, freq=150, tmg_ripup=True),
                                  _rec(1, 146.0, freq=150)])
    groups = seed_spreads(tmp_path / "*.jsonl")
    got = {g.label: [r.fmax_mhz for r in g.runs] for g in groups}
    assert got == {"4x4x32": [145.0, 148.0],
                   "4x4x32, nextpnr --freq 150 --tmg-ripup": [152.8],
                   "4x4x32, nextpnr --freq 150": [146.0]}
    assert sorted(g.flow for g in groups) == ["router1", "router1 --freq 150",
                                              "router1 --freq 150 --tmg-ripup"]


def test_copied_drivers_are_another_group(tmp_path):
    """The same seed with the P&R netlist's high-fanout drivers copied is another flow."""
    rep = _rec(2, 101.0)
    rep["flags"]["replicate"] = "hw.synth.replicate.replicate_high_fanout max_fanout=64"
    _write(tmp_path / "a.jsonl", [_rec(2, 84.0), rep])
    got = {g.label: [r.fmax_mhz for r in g.runs] for g in seed_spreads(tmp_path / "*.jsonl")}
    assert got == {"4x4x32": [84.0], "4x4x32, nextpnr --replicate-fanout 64": [101.0]}


def test_a_seed_with_two_fmax_values_is_a_one_line_error(tmp_path):
    _write(tmp_path / "a.jsonl", [_rec(2, 145.0)])
    _write(tmp_path / "b.jsonl", [_rec(2, 146.0)])
    res = subprocess.run([sys.executable, "-m", "hw", "seeds", "--data",
                          str(tmp_path / "*.jsonl")], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "seed 2 has Fmax 146.0 here and 145.0 in a.jsonl" in res.stderr


def test_an_unknown_device_names_the_file(tmp_path):
    """A record of a device this tool does not know: one error naming the file."""
    from hw.outfiles import InputFileError

    _write(tmp_path / "synth_x.jsonl", [{**_rec(1, 151.0), "device": "ecp9-999"}])
    with pytest.raises(InputFileError, match=r"synth_x\.jsonl: unknown device 'ecp9-999'"):
        seed_spreads(tmp_path / "*.jsonl")


def test_no_file_and_a_bad_line_are_one_line_errors(tmp_path):
    res = subprocess.run([sys.executable, "-m", "hw", "seeds", "--device", "ecp5-9000"],
                         capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2 and "unknown device 'ecp5-9000'" in res.stderr and \
        res.stderr.count("\n") == 1, res.stderr
    for data in (str(tmp_path / "none*.jsonl"), None):
        if data is None:
            (tmp_path / "bad.jsonl").write_text('{"device": 1}\nnot json\n')
            data = str(tmp_path / "bad.jsonl")
        res = subprocess.run([sys.executable, "-m", "hw", "seeds", "--data", data],
                             capture_output=True, text=True, cwd=REPO)
        assert res.returncode == 2 and res.stderr.startswith("error: ") and \
            res.stderr.count("\n") == 1, res.stderr


def test_committed_seed_spread_of_the_default_config_is_what_the_readme_quotes():
    groups = [g for g in seed_spreads(REPO / "hw/synth/data/*.jsonl", "ecp5-85")
              if g.config == CFG and g.flow == "router1"]
    assert len(groups) == 1, "the default config's records span more than one RTL revision"
    s = groups[0].summary()
    assert s["seeds"] >= 3
    readme = (REPO / "README.md").read_text()
    quoted = (f"{s['seeds']} seeds: min {s['min']:.1f}, median {s['median']:.1f}, max "
              f"{s['max']:.1f} MHz, {s['at_target']} of {s['seeds']} at 150 MHz")
    assert quoted in readme, quoted


@pytest.mark.parametrize("flag", ["--json", "--all"])
def test_cli_prints_the_committed_groups(flag):
    res = subprocess.run([sys.executable, "-m", "hw", "seeds", flag], capture_output=True,
                         text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    if flag == "--json":
        doc = json.loads(res.stdout)
        assert doc and all(d["seeds"] == len(d["runs"]) for d in doc)
    else:
        assert "ecp5-85 4x4x32, RTL " in res.stdout


def test_fmax_against_size_with_one_flow_has_no_collapse():
    """hw/synth/data/fmax_size_ecp5.jsonl: the default options at four sizes, each placed and
    routed on seeds 1 and 2 (the default config on seed 3 too) with the placer weight 150, and
    the throughput config at 8x8x64 with the same weight (pool_port_ecp5.jsonl, records 11 and
    14). Fmax falls with size but never collapses: the lowest seed of each config, in LUT
    order, is at least 80 % of the one before (README, Results: Fmax against size)."""
    from collections import defaultdict

    from hw.paths import SYNTH_DATA_DIR

    def weighted(name):
        for line in (SYNTH_DATA_DIR / name).read_text().splitlines():
            rec = json.loads(line)
            if "--placer-heap-timingweight 150" in rec["flags"].get("nextpnr", ""):
                yield rec

    sizes = defaultdict(list)
    for rec in weighted("fmax_size_ecp5.jsonl"):
        assert ArrayConfig.from_dict(rec["config"]) == ArrayConfig(
            rows=rec["rows"], cols=rec["cols"], simd=rec["simd"])      # the default options
        sizes[rec["rows"], rec["cols"], rec["simd"]].append(rec)
    assert sorted(sizes) == [(2, 2, 32), (4, 4, 32), (4, 4, 64), (8, 8, 64)]
    assert all(len(recs) >= 2 for recs in sizes.values())
    assert len(sizes[4, 4, 32]) >= 3                      # the default config: three seeds
    throughput = ArrayConfig(rows=8, cols=8, simd=64, max_k=1024, max_m=256, max_n=256,
                             drain_rows=8, hold_banks=8, pool_lanes=16, load_rows=8,
                             pool_port=1)
    routed = [r for r in weighted("pool_port_ecp5.jsonl")
              if ArrayConfig.from_dict(r["config"]) == throughput]
    assert len(routed) == 2
    lowest = sorted((recs[0]["lut"], min(r["fmax_mhz"] for r in recs))
                    for recs in [*sizes.values(), routed])
    assert len(lowest) == 5
    for (_, before), (_, after) in zip(lowest, lowest[1:]):
        assert after >= 0.8 * before, lowest
