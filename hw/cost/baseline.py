"""Side-by-side benchmark of our cycle model against SCALE-Sim's idealised output-stationary
timing and the compute limit, on the matmul shapes of a traced network (``python -m hw
baseline``).

Three cycle counts per matmul (M x K activations, N x K weights) on an R x C x SIMD array, with
folds = ceil(M/R) * ceil(N/C) and K' = ceil(K/SIMD) (one SIMD word of K per PE per cycle):

- *ours*: ``op.total_cycles(cfg)``, the cycle model proven equal to the RTL
  (:mod:`hw.cost.cycles`) summed over the op's legal sub-jobs: it loads both operands into the
  array's memories, and the tiles overlap.
- *SCALE-Sim*: ``folds * (K' + R + C - 2)``, see :data:`SCALESIM_SOURCE`. It loads nothing
  (operands are assumed in the scratchpads, no DRAM stalls) and never overlaps folds.
- *compute limit*: ``folds * K'``, every PE busy on useful or padded work every cycle.

Binary MACs of the ratios' utilisation: :func:`hw.cost.utilisation.utilisation`.
"""

from __future__ import annotations

from collections import defaultdict

from ..config import ArrayConfig, ceil_div
from .utilisation import config_utilisation

#: what the SCALE-Sim formula is taken from (read in the repository, not copied)
SCALESIM_SOURCE = (
    "SCALE-Sim v2 (github.com/scalesim-project/scale-sim-v2), scalesim/compute/"
    "systolic_compute_os.py, output-stationary: Sr = ifmap rows (our M), Sc = filter columns "
    "(our N), T = the reduction length (our K' = ceil(K/SIMD)); row folds ceil(Sr/R) x column "
    "folds ceil(Sc/C); each fold's ifmap demand is T rows plus C - 1 empty rows (\"allowing the "
    "generated outputs to drain out before starting the next fold\"), skewed over R PE rows "
    "(+ R - 1), i.e. T + R + C - 2 cycles per fold, the same count its filter and ofmap demand "
    "matrices give; folds run back to back, operands prefetched, no DRAM stall in this ideal. "
    "Samajdar et al., \"SCALE-Sim: Systolic CNN Accelerator Simulator\", arXiv:1811.02883 "
    "(only the abstract was read here; the formula is the code's)")

#: the formulas, in words (printed in the header)
SCALESIM_FORMULA = "folds * (ceil(K/SIMD) + R + C - 2), folds = ceil(M/R) * ceil(N/C)"
LIMIT_FORMULA = "ceil(M/R) * ceil(N/C) * ceil(K/SIMD)"


def scalesim_os_cycles(m: int, n: int, k: int, rows: int, cols: int, simd: int) -> int:
    """SCALE-Sim's output-stationary cycles of an M x N x K matmul on R x C PEs with SIMD-wide
    K: ``ceil(M/R) * ceil(N/C) * (ceil(K/SIMD) + R + C - 2)`` (:data:`SCALESIM_SOURCE`)."""
    folds = ceil_div(m, rows) * ceil_div(n, cols)
    return folds * (ceil_div(k, simd) + rows + cols - 2)


def compute_limit_cycles(m: int, n: int, k: int, rows: int, cols: int, simd: int) -> int:
    """The compute limit of an M x N x K matmul: ``ceil(M/R) * ceil(N/C) * ceil(K/SIMD)``
    cycles, every PE busy every cycle (padding of the last tiles included)."""
    return ceil_div(m, rows) * ceil_div(n, cols) * ceil_div(k, simd)


def _ratio(a, b):
    return a / b if b else None


def config_baseline(net, cfg: ArrayConfig) -> dict:
    """The side-by-side of one config: per distinct matmul shape (M, N, K; either mode, the
    timing does not depend on it) the op count, legal jobs per op and the three cycle counts per
    op with the ratios ours/SCALE-Sim and ours/limit, largest share of our cycles first; then
    the matmul totals, the pool jobs (ours only: SCALE-Sim has no pooling unit) and the whole
    network (cycles per frame, utilisation, frames/s at ``cfg.clock_mhz``; compute only)."""
    shapes = defaultdict(lambda: {"count": 0})
    for op in net.matmuls:
        s = shapes[(op.m, op.n, op.k)]
        s["count"] += 1
        if "ours" not in s:
            s.update(jobs=sum(op.legal_jobs(cfg).values()), ours=op.total_cycles(cfg),
                     scalesim=scalesim_os_cycles(op.m, op.n, op.k, cfg.rows, cfg.cols,
                                                 cfg.simd),
                     limit=compute_limit_cycles(op.m, op.n, op.k, cfg.rows, cfg.cols, cfg.simd))
    rows = []
    for (m, n, k), s in shapes.items():
        rows.append({"m": m, "n": n, "k": k, "count": s["count"], "jobs_per_op": s["jobs"],
                     "ours": s["ours"], "scalesim": s["scalesim"], "limit": s["limit"],
                     "ours_over_scalesim": _ratio(s["ours"], s["scalesim"]),
                     "ours_over_limit": _ratio(s["ours"], s["limit"])})
    rows.sort(key=lambda r: (-r["count"] * r["ours"], r["m"], r["n"], r["k"]))
    macs = net.macs()
    mm = {key: sum(r["count"] * r[key] for r in rows) for key in ("ours", "scalesim", "limit")}
    matmuls = {"ops": len(net.matmuls), "shapes": len(rows),
               "jobs": sum(r["count"] * r["jobs_per_op"] for r in rows),
               "binary_macs": macs, **{f"{k}_cycles": v for k, v in mm.items()},
               "ours_over_scalesim": _ratio(mm["ours"], mm["scalesim"]),
               "ours_over_limit": _ratio(mm["ours"], mm["limit"]),
               **{f"utilisation_{k}": config_utilisation(macs, v, cfg) if v else None
                  for k, v in mm.items()}}
    pool_cycles = sum(op.total_cycles(cfg) for op in net.pools)
    pools = {"ops": len(net.pools),
             "jobs": sum(sum(op.legal_jobs(cfg).values()) for op in net.pools),
             "ours_cycles": pool_cycles}
    total = mm["ours"] + pool_cycles
    network = {"cycles_per_frame": total,
               "utilisation": config_utilisation(macs, total, cfg) if total else None,
               "frames_per_s": cfg.clock_mhz * 1e6 / total if total else None,
               "clock_mhz": cfg.clock_mhz}
    return {"config": cfg.to_dict(), "label": f"{cfg.rows}x{cfg.cols}x{cfg.simd}",
            "shapes": rows, "matmuls": matmuls, "pools": pools, "network": network}


def baseline(net, cfgs: list[ArrayConfig]) -> dict:
    """:func:`config_baseline` of ``net`` on every config, with the sources (JSON-able)."""
    from .network import require_fit

    for cfg in cfgs:
        require_fit(net, cfg)
    return {"network": net.name, "network_source": net.source,
            "sources": {"ours": "op.total_cycles(cfg): hw.cost.cycles (equal to the RTL) over "
                                "legal sub-jobs",
                        "scalesim": SCALESIM_SOURCE, "scalesim_formula": SCALESIM_FORMULA,
                        "limit_formula": LIMIT_FORMULA,
                        "utilisation": "binary MACs / (R*C*SIMD*cycles)"},
            "configs": [config_baseline(net, cfg) for cfg in cfgs]}


def _x(v) -> str:
    return "-" if v is None else f"{v:.2f}x"


def table_lines(doc: dict) -> list[str]:
    """The printed side-by-side of :func:`baseline`'s document."""
    L = [f"SCALE-Sim side by side: {doc['network']} ({doc['network_source']})",
         f"  ours       = {doc['sources']['ours']}",
         f"  SCALE-Sim  = {SCALESIM_FORMULA}",
         "               idealised output-stationary timing: loads nothing, never overlaps "
         "folds;",
         "               scale-sim-v2 scalesim/compute/systolic_compute_os.py (T + R + C - 2 "
         "cycles per fold), Samajdar et al., arXiv:1811.02883",
         f"  limit      = {LIMIT_FORMULA}", ""]
    for c in doc["configs"]:
        cfg, mm, pl, nw = c["config"], c["matmuls"], c["pools"], c["network"]
        L.append(f"config {c['label']} (R x C x SIMD) at {cfg['clock_mhz']:g} MHz: "
                 f"{mm['ops']} matmul ops in {mm['shapes']} distinct shapes")
        L.append(f"  {'M x N x K':<16} {'ops':>4} {'jobs/op':>7} {'ours/op':>10} "
                 f"{'SCALE-Sim/op':>12} {'limit/op':>9} {'ours/SS':>8} {'ours/limit':>10}")
        for r in c["shapes"]:
            shape = f"{r['m']}x{r['n']}x{r['k']}"
            L.append(f"  {shape:<16} "
                     f"{r['count']:>4} {r['jobs_per_op']:>7} {r['ours']:>10,} "
                     f"{r['scalesim']:>12,} {r['limit']:>9,} {_x(r['ours_over_scalesim']):>8} "
                     f"{_x(r['ours_over_limit']):>10}")
        L.append(f"  matmuls: {mm['ops']} ops, {mm['jobs']} legal jobs: ours {mm['ours_cycles']:,}"
                 f", SCALE-Sim {mm['scalesim_cycles']:,}, limit {mm['limit_cycles']:,} cycles; "
                 f"ours/SCALE-Sim {_x(mm['ours_over_scalesim'])}, ours/limit "
                 f"{_x(mm['ours_over_limit'])}; utilisation ours "
                 f"{100 * mm['utilisation_ours']:.2f}%, SCALE-Sim "
                 f"{100 * mm['utilisation_scalesim']:.2f}%, limit "
                 f"{100 * mm['utilisation_limit']:.2f}%")
        L.append(f"  pools: {pl['ops']} ops, {pl['jobs']} legal jobs: {pl['ours_cycles']:,} "
                 "cycles (ours; SCALE-Sim has no pooling unit)")
        L.append(f"  network (ours, compute only): {nw['cycles_per_frame']:,} cycles/frame, "
                 f"utilisation {100 * nw['utilisation']:.2f}%, {nw['frames_per_s']:.4g} "
                 f"frames/s at {nw['clock_mhz']:g} MHz")
        L.append("")
    return L[:-1]

