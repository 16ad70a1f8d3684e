"""Resource model: structural features, FINN-R baseline, fitting, and the committed fit."""

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from hw.config import ArrayConfig
from hw.rtl.pool import PoolUnit
from hw.paths import RESOURCE_MODEL as MODEL_PATH, SYNTH_DATA_DIR as DATA_DIR
from hw.cost.resources import (bram_tiles, error_rows, estimate, features,
                          finn_r_lut, fit, load_records, memories, predict, tree_reg_bits)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("width, bits", [(1, 1), (8, 4), (16, 4 + 4 + 5), (64, 32 + 12 + 7),
                                         (24, 12 + 5), (128, 64 + 24 + 8)])
def test_tree_reg_bits_by_hand(width, bits):
    assert tree_reg_bits(width) == bits


def test_tree_reg_bits_matches_synthesized_popcount(tmp_path):
    """The FF feature equals yosys' flip-flop count of the RTL's own Popcount."""
    import os

    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import verilog

    from hw.rtl.popcount import Popcount
    from hw.synth.flow import synth_verilog

    v = tmp_path / "pop.v"
    v.write_text(verilog.convert(Popcount(32), name="pop", emit_src=False))
    rec = synth_verilog([v], "ice40-up5k", pnr=False, workdir=tmp_path / "w")
    assert rec["ff"] == tree_reg_bits(32)


def test_finn_r_formula_by_hand():
    # 8x8x64: P = 64, Q = 64, W = A = 1, MW = 2048
    # mult = 64*(2*ceil(2/6)-1)*2 = 128, addertree = 2*(2*64-1) = 254,
    # alpha = log2(2048) + 1 = 12, acc = ceil(12 + log2(1 + 2**-12) + 1) = 14
    assert finn_r_lut(ArrayConfig(rows=8, cols=8, simd=64, max_k=2048)) == int(300 + 1.1 * 64 * (128 + 254 + 14))
    small = ArrayConfig(rows=1, cols=2, simd=16, max_k=256)
    alpha = math.log2(256) + 1
    acc = math.ceil(alpha + math.log2(1 + 2 ** -alpha) + 1)
    assert finn_r_lut(small) == int(300 + 1.1 * 2 * (32 + 2 * 31 + acc))


@pytest.mark.parametrize("core_parts", [1, 0])
def test_features_read_config_properties(core_parts):
    """The features of a 2x3x16 config: the core built from parts (the default) has a
    zero-count PE per column (3) and no AND-mode copies; the single-module core a row-popcount
    PE per row (2) and two AND-mode copies per PE."""
    from hw.rtl.pe import FLAGS

    cfg = ArrayConfig(rows=2, cols=3, simd=16, max_k=512, core_parts=core_parts)
    f = features(cfg)
    pes = 2 * 3 + (3 if core_parts else 2)
    assert f["lut"]["pe_bits"] == pes * 16
    # two result rows per beat (drain_rows 2): 2 x 3 output lanes
    assert f["lut"]["pe_acc"] == pes * cfg.acc_width and f["lut"]["lanes"] == 6 * cfg.lane_width
    assert features(replace(cfg, drain_rows=1))["ff"]["lanes"] == 3 * cfg.lane_width
    # the pool unit's L lanes (C by default, 6 with pool_lanes=6)
    assert f["lut"]["pool_lanes"] == 3 * cfg.lane_width
    assert features(replace(cfg, pool_lanes=6))["lut"]["pool_lanes"] == 6 * cfg.lane_width
    # hold banks beyond two, per accumulator bit
    assert f["lut"]["extra_banks"] == 0
    assert features(replace(cfg, hold_banks=5))["lut"]["extra_banks"] == pes * cfg.acc_width * 3
    F = FLAGS.size
    # (two AND-mode copies: 16 bits, 8 per leaf), the accumulator and two hold banks
    common = (F + (0 if core_parts else 2) + tree_reg_bits(16) + F * cfg.pe_popcount_latency
              + 3 * cfg.acc_width)
    # the zero-count PEs share PE (0, c)'s operand register; a row-popcount PE has its own a
    extra = 3 * common if core_parts else 2 * (16 + common)
    if core_parts:
        # each PE's and each row's copy of the drain's shift and bank (1 + 1 bits); the skew:
        # row 1's flags, and one register of the activation banks' read address (8,192 words:
        # 14 bits) and two of the weight banks' (5,472 words: 13 bits) instead of the words
        assert f["ff"]["array_regs"] == 6 * (32 + common + 2) + 2 * 2 + extra + F + 14 + 2 * 13
    else:
        assert f["ff"]["array_regs"] == 6 * (32 + common) + extra + (16 + F) + 3 * 16
    assert f["ff"]["mem_words"] == (2 + 3) * 16
    assert f["ff"]["pool_regs"] == cfg.pool_register_bits == PoolUnit.lane_register_bits(cfg) > 0


def test_bram_tiles():
    assert bram_tiles(2048, 64, "ecp5") == 8          # 2048x9 aspect: 8 blocks
    assert bram_tiles(8192, 2, "ecp5") == 1           # one operand-memory slice = one DP16KD
    assert bram_tiles(64, 97, "ecp5") == 3            # output FIFO: PDPW16KD 512x36
    assert bram_tiles(256, 64, "ice40") == 4          # 256x16
    assert bram_tiles(32, 97, "ecp5") == 0            # shallow: LUT RAM
    assert bram_tiles(16, 49, "ice40") == 4           # no LUT RAM on iCE40
    assert bram_tiles(8192, 2, "xc7") == 0.5          # a RAMB18E1 half
    assert bram_tiles(2048, 64, "xc7") == 4           # 2048x18 RAMB36 or 2048x9 RAMB18: same
    assert bram_tiles(64, 18, "xc7") == 0             # 64 deep: LUT RAM (RAM64M) ...
    assert bram_tiles(64, 18, "xc7", block=True) == 0.5   # ... unless ram_style = "block"
    cfg = ArrayConfig(rows=2, cols=3, simd=32, mem_piece_depth=2048)
    mems = memories(cfg)
    # a_bank depth 16384 in 2048-word pieces, each cut into 2048x9 slices (9, 9, 9, 5 bits)
    assert [r.name for r in mems][:5] == ["a_bank0.0.0", "a_bank0.0.1", "a_bank0.0.2",
                                         "a_bank0.0.3", "a_bank0.1.0"]
    assert [r.width for r in mems if r.name.startswith("a_bank0.0.")] == [9, 9, 9, 5]
    assert mems[-1].name == "out_fifo"
    assert sum(r.depth for r in mems if r.name.startswith("a_bank0.") and r.name.endswith(".0")) \
        == cfg.a_bank_depth
    # at most 512 words: 36-bit pseudo-dual-port slices, one DP16KD each (64 bits: 36 + 28)
    shallow = ArrayConfig(rows=2, cols=2, simd=64, max_k=512, max_m=64, max_n=64)
    assert shallow.a_bank_depth == 256
    assert [r.width for r in memories(shallow) if r.name.startswith("a_bank0.")] == [36, 28]
    assert sum(bram_tiles(r.depth, r.width, "ecp5") for r in memories(shallow)
               if r.name.startswith(("a_bank", "w_bank"))) == 2 * 4


def test_bram_estimate_equals_yosys_on_every_committed_record():
    """Block RAM is counted, not fitted: equal to yosys' count on every record of every family
    (the pool unit's 64-deep banks are block RAM on 7-series only by their ram_style)."""
    from hw.cost.devices import get_device
    from hw.cost.resources import bram_estimate

    recs = load_records(DATA_DIR / "synth_*.jsonl")
    families = [get_device(r["device"]).family for r in recs]
    assert set(families) == {"ecp5", "ice40", "xc7"}
    for rec, fam in zip(recs, families):
        assert bram_estimate(ArrayConfig.from_dict(rec["config"]), fam) == rec["bram"], \
            (rec["device"], rec["config"])
    pool = [r for r in memories(ArrayConfig()) if r.name.startswith("pool_row")]
    assert pool and all(r.block for r in pool)
    assert not any(r.block for r in memories(ArrayConfig()) if not r.name.startswith("pool_row"))


def test_fit_recovers_known_coefficients():
    """Records generated from known coefficients come back exactly (the fitter itself)."""
    # (two with L = 2C pool lanes, so that the pool-lane term is told apart from the lanes';
    # two with more than two hold banks, for the LUT term of the banks beyond two)
    cfgs = [ArrayConfig(rows=r, cols=c, simd=s, pool_lanes=lanes, hold_banks=n)
            for r, c, s, lanes, n in
            [(1, 1, 16, 0, 2), (2, 2, 32, 4, 2), (4, 4, 64, 0, 2), (2, 4, 16, 0, 8),
             (3, 1, 128, 0, 2), (4, 2, 32, 4, 2), (1, 4, 64, 0, 2), (3, 3, 16, 0, 3)]]
    true = {"lut": [2.0, 1.5, 3.0, 0.7, 1.2, 400.0], "ff": [0.9, 1.0, 2.0, 1.2, 50.0]}
    recs = []
    for cfg in cfgs:
        f = features(cfg)
        rec = {"device": "ecp5-85", "config": cfg.to_dict(), "command": str(cfg), "dsp": 3}
        for key, coef in true.items():
            rec[key] = sum(c * v for c, v in zip(coef, f[key].values()))
        recs.append(rec)
    model = fit(recs)
    for key, coef in true.items():
        assert model["ecp5"][key]["coef"] == pytest.approx(coef, rel=1e-6, abs=1e-6)
    assert predict(cfgs[0], "ecp5", model)["dsp"] == 3


# ---- the committed model ------------------------------------------------------------------------
committed = pytest.mark.skipif(not MODEL_PATH.exists(), reason="no committed resource model")


@committed
def test_committed_model_is_the_fit_of_the_committed_data():
    doc = json.loads(MODEL_PATH.read_text())
    refit = fit(load_records(DATA_DIR / "synth_*.jsonl"))
    for fam, fm in doc["families"].items():
        for key in ("lut", "ff"):
            assert fm[key]["coef"] == pytest.approx(refit[fam][key]["coef"], rel=1e-6, abs=1e-9)


@committed
def test_estimate_has_the_synth_keys_and_held_out_error_is_recorded():
    rec = estimate(ArrayConfig(), "ecp5-85")
    for key in ("lut", "ff", "carry", "bram", "dsp", "fmax_mhz", "finn_r_lut"):
        assert key in rec
    assert estimate(ArrayConfig(), "xc7a100t")["fmax_mhz"] is None
    assert estimate(ArrayConfig(), "ice40-up5k")["fmax_mhz"] is None    # HX8K data only
    assert estimate(ArrayConfig(), "ecp5-25")["fmax_mhz"] > 0             # same fabric/speed
    doc = json.loads(MODEL_PATH.read_text())
    rows = error_rows(load_records(DATA_DIR / "synth_*.jsonl"), doc["families"])
    assert {r["family"] for r in rows} >= {"ecp5", "ice40"}
    for fam in ("ecp5", "ice40"):
        assert sum(r["family"] == fam for r in rows) >= 3   # >= 3 held-out configs per family


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "hw", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=600)


@committed
def test_cli_estimate_one_json_line_and_overflow_exit():
    res = _cli("estimate", "--rows", "2", "--cols", "2", "--simd", "32", "--device", "ecp5-85")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["fits"] is True
    res = _cli("estimate", "--device", "ice40-up5k", "--rows", "8", "--cols", "8", "--simd", "64")
    assert res.returncode == 3
    assert "does not fit ice40-up5k" in res.stderr and "lut" in res.stderr and "over by" in res.stderr
    rec = json.loads(res.stdout)
    assert rec["fits"] is False and rec["over"]["lut"] > 0 and rec["over"]["bram"] > 0


@committed
def test_committed_data_is_one_rtl_revision_per_family_with_commands():
    for path in sorted(DATA_DIR.glob("synth_*.jsonl")):
        recs = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
        assert recs, path
        assert len({r.get("rtl_revision") for r in recs}) == 1, f"{path.name} mixes RTL revisions"
        for r in recs:
            assert r["command"].startswith("python -m hw synth --device ")
            assert r["sweep"].startswith("python -m hw synth --sweep ")


@pytest.mark.parametrize("core_parts", [1, 0])
def test_array_registers_count_every_hold_bank(core_parts):
    """Each hold bank is one more accumulator-wide register per PE (R*C + C of them in the core
    built from parts, R*C + R in the single-module core), and the bank index in the flags (and
    in the drain's copies per PE) grows to ceil(log2(n)) bits (PE.acc_register_bits,
    flags_layout)."""
    cfg = ArrayConfig(rows=2, cols=3, simd=16, max_k=512, core_parts=core_parts)
    pes, acc = 2 * 3 + (3 if core_parts else 2), cfg.acc_width
    two = features(cfg)["ff"]["array_regs"]
    three = features(replace(cfg, hold_banks=3))["ff"]["array_regs"]
    four = features(replace(cfg, hold_banks=4))["ff"]["array_regs"]
    # one more flag bit (the bank index) in every flag register: PE operands, PE pipeline
    # stages, the row skew lines
    flag_regs = pes * (1 + cfg.pe_latency - 1) + 2 * (2 - 1) // 2
    # and, in the core built from parts, in each PE's copy of the drain's bank
    assert three - two == pes * acc + flag_regs + ((2 * 3 + 2) if core_parts else 0)
    assert four - three == pes * acc
