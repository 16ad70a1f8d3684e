"""Resource model: LUT, FF, carry, BRAM, DSP and Fmax of an array config on a device.

Structure (per device family; every width and count is read from :class:`hw.config.ArrayConfig`
and the RTL's own constants, nothing re-derived except the popcount tree's register bits,
computed with the grouping the RTL's ``popcount_latency`` describes):

LUT  = a * P * S                  XNOR/AND select + popcount adder trees of the P PEs
     + b * P * acc_width          accumulators (adder, first/valid select, two hold banks)
     + e * P * acc_width * (hold_banks - 2)
                                  each hold bank beyond two: its capture/shift select and
                                  one more input of the drain's bank multiplexer
     + c * D*C * lane_width       drain lanes (2*acc - offset, D rows of C) and the output
                                  FIFO data
     + d                          controller, pool unit, edge masks, FIFO control
FF   = a * array_register_bits    the array's registers counted from its structure
                                  (:func:`array_register_bits`; a ~ 1 when yosys trims little)
     + b * D*C * lane_width       output side
     + c * (R + C) * S            operand memory registers (write data, read data, transport;
                                  on ECP5 the read-data register sits in the block RAM)
     + d * pool_register_bits     the pool unit's lanes (row shift registers, sums)
     + e                          controller and pool sequencer
carry = a * P * acc_width + b * D*C * lane_width + c
(P = R*C + the PEs beside them, :func:`extra_pes`: C zero-count PEs in the core built from
parts, the default, or R row-popcount PEs in the single-module core; D = drain_rows_eff, the
tile rows per result beat)
BRAM is counted from the memories' shapes (R activation banks, C weight banks, the pool unit's
open-row banks, the output FIFO) tiled onto the family's block-RAM aspect ratios (no fitting); DSP is the
controller's multipliers (a per-family constant, the training median); Fmax = a + b*log2(R*C)
+ c*log2(hold_banks / 2) (nextpnr, least squares; the drain's bank select reaches every PE's
hold registers, and more banks lengthened it in the single-module core, 4x4x16 at 139.8 MHz
with 2 banks and 120.6 with 8; the core built from parts places them at 140.1 and 133.4).

Coefficients are fitted per family by non-negative least squares on relative error
(:func:`fit`) on ``hw/synth/data/synth_*.jsonl`` minus the records marked ``held_out``; ``python -m hw
fit`` writes them to ``hw/synth/data/resource_model.json`` and prints the held-out error next to the
FINN-R baseline (:func:`finn_r_lut`).
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..config import (BLOCK_RAM_SHAPES, PSEUDO_DUAL_PORT_SHAPE, ArrayConfig, ceil_div,
                      mem_piece_words, read_write_slice_bits)
from ..paths import RESOURCE_MODEL, SYNTH_DATA_DIR
from .devices import FAMILIES, Device, get_device

KEYS = ("lut", "ff", "carry", "bram", "dsp", "fmax_mhz")


class ModelError(ValueError):
    """The model cannot answer (no fitted coefficients, no data); the message says what to run."""


# ---- features ------------------------------------------------------------------------------------
def tree_reg_bits(width: int, group: int = 8) -> int:
    """Register bits of a pipelined popcount of ``width`` bits
    (:meth:`hw.rtl.popcount.Popcount.register_bits`), the structure whose depth is
    :func:`hw.config.popcount_latency`."""
    from ..rtl.popcount import Popcount

    return Popcount.register_bits(width, group)


def extra_pes(cfg) -> tuple:
    """(count, operand bits of each) of the array's PEs beside its R x C: one row-popcount PE
    per row with its own activation operand (the single-module core, ``core_parts`` 0), or
    one zero-count PE per column sharing PE (0, c)'s operand register (the core built from
    parts). Elementwise on numpy arrays of rows and cols."""
    if cfg.core_parts:
        return cfg.cols, 0
    return cfg.rows, cfg.simd


def array_register_bits(cfg: ArrayConfig) -> int:
    """Flip-flops the systolic array's structure implies (before yosys trims or merges any).

    Per PE (R*C of them): the forwarded operands a, w (2*S) and flags (F bits), the AND-mode
    flag's copies (:meth:`hw.rtl.pe.PE.mode_copies`; none in the core built from parts, whose
    PEs count XNOR only), the popcount pipeline (:func:`tree_reg_bits`; the XNOR/AND feeds its
    leaves unregistered), the flags travelling alongside (F per stage: pe_latency - 1 of them)
    and the accumulator plus its ``hold_banks`` hold registers
    (:meth:`hw.rtl.pe.PE.acc_register_bits`: (1 + hold_banks) * acc_width). The single-module
    core (``core_parts`` 0) has a row-popcount PE per row (R): the same minus the constant
    weight operand; the core built from parts a zero-count PE per column (C): the same minus
    both operands (it shares PE (0, c)'s register), and each PE and each row its own copy of the
    drain's shift and bank registers (:class:`hw.rtl.parts.drain_control.DrainControl`). Skew
    lines: :attr:`hw.config.ArrayConfig.skew_register_bits`. F = the width of
    :func:`hw.rtl.pe.flags_layout` of ``hold_banks`` (the bank index: ceil(log2(hold_banks))).
    """
    from ..rtl.parts.drain_control import DrainControl
    from ..rtl.pe import PE, flags_layout

    R, C, S = cfg.rows, cfg.cols, cfg.simd
    F = flags_layout(cfg.hold_banks).size
    common = (F + (1 - cfg.core_parts) * PE.mode_copies(S) + tree_reg_bits(S) + F * (cfg.pe_latency - 1)
              + PE.acc_register_bits(cfg.acc_width, cfg.hold_banks))
    n_extra, operand = extra_pes(cfg)
    drain_copies = cfg.core_parts * DrainControl.copy_register_bits(cfg)
    return (drain_copies + R * C * (2 * S + common)
            + n_extra * (operand + common) + cfg.skew_register_bits)


def features(cfg: ArrayConfig) -> dict[str, dict[str, float]]:
    """Per-resource feature vectors (name -> value) of the model, from ``cfg``'s properties.

    Few features on purpose: the sweeps have 7-9 training configs per family. Written with
    operations that also work elementwise on numpy arrays: :class:`hw.cost.dse.ConfigGrid`
    (many (R, C) of one SIMD; ``rows``, ``cols`` and the properties read here as arrays) goes
    through this same function.
    """
    R, C, S = cfg.rows, cfg.cols, cfg.simd
    pes = R * C + extra_pes(cfg)[0]
    acc = cfg.acc_width
    lanes = cfg.drain_rows_eff * C * cfg.lane_width       # result lane bits: D rows of C
    pool_lanes = cfg.pool_lanes_eff * cfg.lane_width      # the pool unit's L lanes' sums
    # result lanes with a pool core of its own (pool_port): the core's, then the pool core's L
    # lanes (its result registers, output FIFO and its read and queue registers, counted per
    # lane bit as the core's are; one synthesised config, 8x8x64 L = 32: LUT +3,956, FF +3,565
    # for 768 lane bits (32 lanes of 24), hw/synth/data/pool_port_ecp5.jsonl)
    out_lanes = lanes + cfg.pool_port * pool_lanes
    # operand words registered at the memories: a read word per bank, the G load words
    mem_words = (R + C + cfg.load_rows_eff - 1) * S
    return {
        "lut": {"pe_bits": pes * S, "pe_acc": pes * acc, "lanes": out_lanes,
                "pool_lanes": pool_lanes, "extra_banks": pes * acc * (cfg.hold_banks - 2),
                "const": 1.0},
        "ff": {"array_regs": array_register_bits(cfg), "lanes": out_lanes,
               "mem_words": mem_words, "pool_regs": cfg.pool_register_bits, "const": 1.0},
        "carry": {"pe_acc": pes * acc, "lanes": lanes, "const": 1.0},
        "dsp": {"const": 1.0},
        "fmax_mhz": {"const": 1.0, "log2_pes": _log2(R * C),
                     "log2_banks": _log2(cfg.hold_banks / 2)},
    }


def _log2(x):
    """log2, elementwise on numpy arrays; of a number, a Python float (numpy's log2 either way,
    so one config and a sweep of them get the same bits)."""
    y = np.log2(x)
    return y if isinstance(y, np.ndarray) else float(y)


# ---- block RAM -----------------------------------------------------------------------------------
#: (depth, width, cost in device BRAM units) of one block RAM mode, per family, as yosys 0.70
#: maps the RTL's one-write / one-read memories (checked on every committed record): ECP5
#: DP16KD x1..x18 and PDPW16KD x36 (FPGA-DS-02012 sec. 2.10; the shapes of hw.config), iCE40
#: SB_RAM40_4K (TN1250), 7-series RAMB36E1 x1..x18 (cost 1), RAMB18E1 x1..x18 and, simple
#: dual-port, x36 (cost 0.5; UG473 tables 1-7 and 1-8).
BRAM_SHAPES = {
    "ecp5": [(words, bits, 1) for words, bits in (*BLOCK_RAM_SHAPES, PSEUDO_DUAL_PORT_SHAPE)],
    "ice40": [(2048, 2, 1), (1024, 4, 1), (512, 8, 1), (256, 16, 1)],
    "xc7": [(32768, 1, 1), (16384, 2, 1), (8192, 4, 1), (4096, 9, 1), (2048, 18, 1),
            (16384, 1, 0.5), (8192, 2, 0.5), (4096, 4, 0.5), (2048, 9, 0.5), (1024, 18, 0.5),
            (512, 36, 0.5)],
}
#: memories at most this deep become LUT RAM, not block RAM, unless they are marked
#: ``ram_style = "block"`` (the pool unit's open-row banks): what yosys 0.70 did with the output
#: FIFO on every committed record (ECP5 TRELLIS_DPR16X4 for 32 deep, 7-series RAM32M/RAM64M up
#: to 64 deep; iCE40 has no LUT RAM).
LUTRAM_MAX_DEPTH = {"ecp5": 32, "ice40": 0, "xc7": 64}


class Ram(NamedTuple):
    """One RAM of the design: name, depth (words), width (bits) and whether the RTL forces it
    into block RAM (``ram_style = "block"``) whatever its depth."""
    name: str
    depth: int
    width: int
    block: bool = False


def memories(cfg: ArrayConfig) -> list[Ram]:
    """Every RAM of the design, from the config's derived sizes.

    Operand memories (R activation banks, C weight banks) are built like the RTL's
    PipelinedMemory: pieces of at most ``mem_piece_depth`` words, each cut into slices of
    :func:`hw.config.read_write_slice_bits` bits (one RAM each), listed separately.
    """
    piece_depth, simd = cfg.mem_piece_depth, cfg.simd

    def slices(depth):
        """(".piece.slice", depth, width) of the RAMs of one operand memory."""
        words = mem_piece_words(depth, piece_depth)
        bits = read_write_slice_bits(words)
        return [(f".{i}.{j}", min(words, depth - i * words), min(bits, simd - j * bits))
                for i in range(ceil_div(depth, words)) for j in range(ceil_div(simd, bits))]

    a_bank, w_bank = slices(cfg.a_bank_depth), slices(cfg.w_bank_depth)
    mems = [Ram(f"a_bank{r}{s}", d, w) for r in range(cfg.rows) for s, d, w in a_bank]
    mems += [Ram(f"w_bank{c}{s}", d, w) for c in range(cfg.cols) for s, d, w in w_bank]
    from ..rtl.pool import PoolUnit      # the pool unit's open-row banks, in their slices

    pool_block = PoolUnit.BANK_RAM_ATTRS.get("ram_style") == "block"
    mems += [Ram(f"pool_row{b}.{i}", cfg.pool_row_depth, hi - lo, pool_block)
             for b in range(cfg.pool_open_rows)
             for i, (lo, hi) in enumerate(PoolUnit.bank_slices(cfg))]
    mems.append(Ram("out_fifo", cfg.out_fifo_depth, cfg.out_width + 1))
    if cfg.pool_port:       # the pool core's FIFO (hw.rtl.pool_core): L lanes and last
        mems.append(Ram("pool_out_fifo", cfg.out_fifo_depth,
                        cfg.pool_lanes_eff * cfg.lane_width + 1))
    return mems


def bram_tiles(depth: int, width: int, family: str, block: bool = False) -> float:
    """Fewest block RAMs holding a ``depth`` x ``width`` memory (0 if it goes to LUT RAM: at
    most ``LUTRAM_MAX_DEPTH`` deep and not ``block``)."""
    if depth <= LUTRAM_MAX_DEPTH[family] and not block:
        return 0.0

    def tiles(shapes):
        return min(ceil_div(depth, d) * ceil_div(width, w) * cost for d, w, cost in shapes)

    return float(tiles(BRAM_SHAPES[family]))


def bram_estimate(cfg: ArrayConfig, family: str) -> float:
    return sum(bram_tiles(r.depth, r.width, family, r.block) for r in memories(cfg))


# ---- FINN-R baseline -----------------------------------------------------------------------------
def finn_r_lut(cfg: ArrayConfig) -> int:
    """FINN-R's MVAU LUT estimate evaluated on this array (baseline, not our model).

    Blott et al., "FINN-R: An End-to-End Deep-Learning Framework for Fast Exploration of
    Quantized Neural Networks", ACM TRETS 11(3), 2018; as implemented in Xilinx/finn
    ``MVAU.lut_estimation`` (src/finn/custom_op/fpgadataflow/matrixvectoractivation.py):
    LUT = c0 + c1 * P * (mult + addertree + acc + thr + comp) + c2 with c0 = 300, c1 = 1.1,
    mult = Q * (2 * ceil((W + A) / 6) - 1) * (W + A) (resType lut), addertree = (W + A)(2Q - 1),
    acc = min(32, ceil(alpha + log2(1 + 2^-alpha) + 1)), alpha = log2(MW) + W + A - 1 - signed.
    Mapping: P = R*C PEs (one output each), Q = SIMD, W = A = 1 (binary, unsigned), MW = max_k;
    noActivation = 1 (integer outputs: thr = comp = 0); weights streamed (c2 = 0).
    """
    P, Q, W, A = cfg.rows * cfg.cols, cfg.simd, 1, 1
    c0, c1 = 300, 1.1
    mult = Q * (2 * math.ceil((W + A) / 6) - 1) * (W + A)
    addertree = (W + A) * (2 * Q - 1)
    alpha = math.log2(cfg.max_k) + W + A - 1 - 0
    acc = min(32, math.ceil(alpha + math.log2(1 + 2 ** -alpha) + 1))
    return int(c0 + c1 * (P * (mult + addertree + acc)))


# ---- fitting -------------------------------------------------------------------------------------
def load_records(pattern: str | Path = SYNTH_DATA_DIR / "synth_*.jsonl",
                 what: str = "synthesis records") -> list[dict]:
    """Every whole-accelerator synthesis record (no ``error``) in the files matching ``pattern``.

    InputFileError (:mod:`hw.outfiles`) naming the file and line of a line that is not a JSON
    record; ModelError naming the file and line of a record without the fields the fit reads
    (device, config, command) or with an invalid config."""
    from ..config import ConfigError
    from ..outfiles import read_jsonl
    from .devices import DeviceError

    recs = []
    for path in sorted(glob.glob(str(pattern))):
        if Path(path).is_dir():
            continue
        for no, r in enumerate(read_jsonl(path, what), 1):
            if "error" in r or r.get("component", "top") != "top":
                continue
            try:
                get_device(r["device"])
                ArrayConfig.from_dict(r["config"])
                str(r["command"])
            except (KeyError, TypeError, ConfigError, DeviceError) as exc:
                reason = f"no field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise ModelError(f"{what} {path}: record {no} is not a synthesis record "
                                 f"({reason}); rerun `python -m hw synth` for it or remove "
                                 "it") from None
            recs.append(r)
    return recs


def _cfg(rec: dict) -> ArrayConfig:
    return ArrayConfig.from_dict(rec["config"])


def _nnls_rel(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares minimising the squared *relative* error."""
    from scipy.optimize import nnls

    w = 1.0 / np.maximum(np.abs(y), 1.0)
    coef, _ = nnls(X * w[:, None], y * w)
    return coef


def fit(records: list[dict]) -> dict:
    """Fitted coefficients per family and resource from non-held-out ``records``."""
    model = {}
    for fam in FAMILIES:
        train = [r for r in records if get_device(r["device"]).family == fam and not r.get("held_out")]
        if not train:
            continue
        fm = {"trained_on": [r["command"] for r in train]}
        feats = [features(_cfg(r)) for r in train]
        for key in ("lut", "ff", "carry", "dsp", "fmax_mhz"):
            rows = [(f[key], r[key]) for f, r in zip(feats, train) if r.get(key) is not None]
            if not rows:
                continue
            names = list(rows[0][0])
            X = np.array([[f[n] for n in names] for f, _ in rows], dtype=float)
            y = np.array([v for _, v in rows], dtype=float)
            if key == "fmax_mhz":   # may decrease with size: ordinary least squares
                coef = np.linalg.lstsq(X, y, rcond=None)[0]
            elif key == "dsp":
                coef = np.array([float(np.median(y))])
            else:
                coef = _nnls_rel(X, y)
            fm[key] = {"features": names, "coef": [float(c) for c in coef], "n": len(rows)}
            if key == "fmax_mhz":
                fm[key]["devices"] = sorted({r["device"] for r in train if r.get(key)})
        model[fam] = fm
    return model


def loo_error(records: list[dict]) -> dict:
    """Leave-one-out mean |% error| of lut and ff over the *training* records, per family
    (a model-selection check that never looks at the held-out configs)."""
    train = [r for r in records if not r.get("held_out")]
    out = {}
    for fam in FAMILIES:
        fr = [r for r in train if get_device(r["device"]).family == fam]
        if len(fr) < 3:
            continue
        errs = {"lut": [], "ff": []}
        for i, r in enumerate(fr):
            model = fit(fr[:i] + fr[i + 1:])
            pred = predict(_cfg(r), fam, model)
            for key in errs:
                if r.get(key):
                    errs[key].append(abs(100.0 * (pred[key] - r[key]) / r[key]))
        out[fam] = {f"{k}_loo_mae": round(float(np.mean(v)), 2) for k, v in errs.items() if v}
    return out


def predict(cfg: ArrayConfig, family: str, model: dict) -> dict:
    """Model prediction (lut, ff, carry, bram, dsp, fmax_mhz) for ``cfg`` on ``family``."""
    if family not in model:
        raise ModelError(f"no fitted coefficients for family {family!r}; run `python -m hw fit`")
    feats = features(cfg)
    out = {}
    for key in ("lut", "ff", "carry", "dsp", "fmax_mhz"):
        m = model[family].get(key)
        if m is None:
            out[key] = None
            continue
        unknown = [n for n in m["features"] if n not in feats[key]]
        if unknown:
            raise ModelError(f"the fitted {family} {key} coefficients name features {unknown} "
                             "that hw.cost.resources.features does not have; re-run "
                             "`python -m hw fit`")
        val = sum(c * feats[key][n] for n, c in zip(m["features"], m["coef"]))
        out[key] = round(val, 1) if key == "fmax_mhz" else int(round(val))
    out["bram"] = bram_estimate(cfg, family)
    return out


def load_model(path: Path | None = None) -> dict:
    """The fitted model file (``path``, a --coeffs argument, or the committed
    hw/synth/data/resource_model.json): ModelError when it does not exist or is not a fitted
    model, InputFileError (:mod:`hw.outfiles`) when it is not JSON; both name the file."""
    from ..outfiles import read_json

    what = "--coeffs" if path else "resource model"
    path = Path(path or RESOURCE_MODEL)
    if not path.exists():
        raise ModelError(f"{what} {path} not found; run `python -m hw fit` on the committed "
                         "synthesis data (hw/synth/data/synth_*.jsonl) first")
    doc = read_json(path, what)
    problem = _model_problem(doc)
    if problem:
        raise ModelError(f"{what} {path}: not a fitted resource model ({problem}); write one "
                         "with `python -m hw fit`")
    return doc


def _model_problem(doc) -> str | None:
    """What is wrong with a model document (None when it has the format :func:`fit` writes)."""
    fams = doc.get("families") if isinstance(doc, dict) else None
    if not isinstance(fams, dict):
        return "no 'families' object"
    for fam, fm in fams.items():
        if not isinstance(fm, dict):
            return f"family {fam!r} is not an object"
        for key in ("lut", "ff", "carry", "dsp", "fmax_mhz"):
            m = fm.get(key)
            if m is None:
                continue
            if not (isinstance(m, dict) and isinstance(m.get("features"), list)
                    and isinstance(m.get("coef"), list)
                    and len(m["features"]) == len(m["coef"])
                    and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                            and math.isfinite(c) for c in m["coef"])):
                return (f"{fam}.{key} needs 'features' and 'coef' lists of equal length with "
                        "finite numbers")
    return None


def estimate(cfg: ArrayConfig, device: Device | str, *, coeffs_path: Path | None = None) -> dict:
    """One JSON-able record with the same keys as a synthesis record (lut, ff, carry, bram, dsp,
    fmax_mhz) plus the FINN-R LUT baseline. fmax_mhz is None without P&R data for the part's
    fabric and speed (Artix-7; iCE40 UP5K, the sweep placed HX8K)."""
    dev = get_device(device) if isinstance(device, str) else device
    model = load_model(coeffs_path)
    pred = predict(cfg, dev.family, model["families"])
    fm = model["families"][dev.family].get("fmax_mhz") or {}
    # Fmax transfers between parts of one fabric and speed grade only: the ECP5 parts here are
    # all LFE5U speed 6; an iCE40 UP5K is much slower than the HX8K the sweep placed.
    same_speed = dev.name in fm.get("devices", []) or dev.family == "ecp5"
    if not dev.can_place_and_route or not same_speed:
        pred["fmax_mhz"] = None
    return {"rows": cfg.rows, "cols": cfg.cols, "simd": cfg.simd, "device": dev.name,
            **{k: pred[k] for k in KEYS}, "finn_r_lut": finn_r_lut(cfg),
            "model": str(Path(coeffs_path or RESOURCE_MODEL).name), "config": cfg.to_dict()}


# ---- error table ---------------------------------------------------------------------------------
def _err(pred: float | None, true: float | None) -> float | None:
    if pred is None or true is None or true == 0:
        return None
    return 100.0 * (pred - true) / true


def error_rows(records: list[dict], model: dict, held_out: bool = True) -> list[dict]:
    """Per held-out record: measured vs predicted lut/ff/bram/fmax and FINN-R, with % errors."""
    rows = []
    for r in records:
        if bool(r.get("held_out")) != held_out:
            continue
        fam = get_device(r["device"]).family
        cfg = _cfg(r)
        p = predict(cfg, fam, model)
        finn = finn_r_lut(cfg)
        row = {"device": r["device"], "family": fam, "config": f"{cfg.rows}x{cfg.cols}x{cfg.simd}",
               "max_k": cfg.max_k}
        for k in ("lut", "ff", "bram", "dsp", "fmax_mhz"):
            row[k] = r.get(k)
            row[f"{k}_est"] = p.get(k)
            row[f"{k}_err"] = _err(p.get(k), r.get(k))
        row["finn_r_lut"], row["finn_r_lut_err"] = finn, _err(finn, r.get("lut"))
        rows.append(row)
    return rows


def _fmt(v, pct=False):
    if v is None:
        return "-"
    return f"{v:+.1f}%" if pct else (f"{v:g}" if isinstance(v, float) else str(v))


def error_table(rows: list[dict]) -> str:
    """Markdown table of held-out errors plus per-family mean |error| summary."""
    head = ("| device | R x C x S | LUT | est | err | FINN-R | err | FF | est | err | "
            "BRAM | est | Fmax | est | err |")
    out = [head, "|" + "---|" * 15]
    for r in rows:
        out.append("| " + " | ".join([
            r["device"], r["config"], _fmt(r["lut"]), _fmt(r["lut_est"]), _fmt(r["lut_err"], 1),
            _fmt(r["finn_r_lut"]), _fmt(r["finn_r_lut_err"], 1), _fmt(r["ff"]), _fmt(r["ff_est"]),
            _fmt(r["ff_err"], 1), _fmt(r["bram"]), _fmt(r["bram_est"]), _fmt(r["fmax_mhz"]),
            _fmt(r["fmax_mhz_est"]), _fmt(r["fmax_mhz_err"], 1)]) + " |")
    out += ["", "| family | n held out | mean abs LUT err | max abs LUT err | FINN-R mean abs LUT err "
                "| mean abs FF err | max abs FF err | mean abs Fmax err |", "|" + "---|" * 8]
    for fam, s in summary(rows).items():
        out.append("| " + " | ".join([fam, str(s["n"])] + [_fmt(s[k], 1)[1:] if s[k] is not None
                                                           else "-" for k in
                                                           ("lut_mae", "lut_max", "finn_r_mae",
                                                            "ff_mae", "ff_max", "fmax_mae")]) + " |")
    return "\n".join(out) + "\n"


def summary(rows: list[dict]) -> dict:
    """Per-family mean/max absolute % errors of the held-out rows."""
    out = {}
    for fam in FAMILIES:
        fr = [r for r in rows if r["family"] == fam]
        if not fr:
            continue

        def stat(key, fn):
            vals = [abs(r[key]) for r in fr if r[key] is not None]
            return round(fn(vals), 2) if vals else None

        out[fam] = {"n": len(fr), "lut_mae": stat("lut_err", np.mean), "lut_max": stat("lut_err", max),
                    "finn_r_mae": stat("finn_r_lut_err", np.mean),
                    "ff_mae": stat("ff_err", np.mean), "ff_max": stat("ff_err", max),
                    "fmax_mae": stat("fmax_mhz_err", np.mean)}
    return out


def fit_main(*, out: Path, data_glob: str | None = None, table: str | None = None) -> int:
    """``python -m hw fit``: fit on the records matching ``data_glob`` (default the committed
    ``hw/synth/data/synth_*.jsonl``), write the model JSON to ``out`` and the markdown error
    table to ``table`` (none when None), print the table. The command passes the committed
    paths (hw/synth/data/resource_model.json, resource_model_error.md)."""
    from ..outfiles import atomic_file, check_output_path

    pattern = data_glob or str(SYNTH_DATA_DIR / "synth_*.jsonl")
    check_output_path(out, "--out", folder=False)          # before the fit: a bad path fails at once
    if table:
        check_output_path(table, "--table", folder=False)
    recs = load_records(pattern, "--data")
    if not recs:
        raise ModelError(f"--data {pattern}: no synthesis records match; run `python -m hw "
                         "synth --sweep all` (make synth) first")
    model = fit(recs)
    rows = error_rows(recs, model)
    train_rows = error_rows(recs, model, held_out=False)
    doc = {"command": "python -m hw fit", "data": sorted(
               str(Path(p).name) for p in glob.glob(pattern)),
           "families": model, "held_out_error": summary(rows),
           "training_error": summary(train_rows), "training_loo_error": loo_error(recs),
           "held_out": rows}
    text = error_table(rows)
    # both files or neither: each goes to a temporary, renamed into place when both are whole
    with atomic_file(out) as model_fh, (atomic_file(table) if table
                                        else contextlib.nullcontext()) as table_fh:
        model_fh.write(json.dumps(doc, indent=1) + "\n")
        if table_fh is not None:
            table_fh.write("# Resource model: held-out error (`python -m hw fit`)\n\n"
                           "Positive error = over-estimate. FINN-R = Blott et al., TRETS "
                           "2018, MVAU lut_estimation with P=R*C, Q=SIMD, W=A=1, MW=max_k.\n\n"
                           + text)
    print(text, end="")
    return 0
