"""Functional coverage of the ``bvit_top`` testbench: named bins, one list per job, merged.

Every result row of :mod:`sim.tb` (and :mod:`sim.tb_network`) carries ``"cover"``: the names of
the bins that job hit (strings from :data:`ALL_BINS`). The bins of a row are explicit so that
rows from any number of simulator processes merge by plain counting (:func:`merge`), and the
merged counts print as text (:func:`report_text`); inside a simulation every job's bins are also
sampled into cocotb-coverage's ``coverage_db`` (:func:`sample`), whose report goes to the
simulation log.

The bins (``GROUPS`` lists them by group):

- ``mode:xnor|and|pool``: the job kind.
- matmul shape: ``k_mod_simd:0|nonzero``, ``m_mod_r:0|nonzero``, ``n_mod_c:0|nonzero``;
  ``tiles_m:single|multi`` (M <= R or not), ``tiles_n:single|multi`` (N <= C),
  ``tiles_k:single|multi`` (one data word per row, K <= SIMD, or several); ``k:1``, ``k:max``
  (K = the config's max_k).
- pool kernel / stride / padding classes of BinaryViT (a job may hit more than one; a 2x2/2
  pool is both the merge shortcut and an SR pool with r = 2, as in the tiny model):
  ``pool:sr_rxr/r`` (r x r, stride r, r >= 2, no padding, not the whole input),
  ``pool:branch_3x1/1``, ``pool:branch_1x3/1``, ``pool:branch_5x1/1``, ``pool:branch_1x5/1``
  (stride 1, zero padding (1, 0), (0, 1), (2, 0), (0, 2): the output keeps the input size),
  ``pool:merge_2x2/2``, ``pool:gap_kxk/k`` (the window is the whole H x W input, no padding,
  H*W > 1), ``pool:ffn_1xg/1xg`` (1 x g, stride 1 x g, g >= 2: the FFN channel-group pool);
  ``pool:other`` for a pool in none of these classes.
- stream conditions seen while the job ran (:class:`sim.bfm.JobMonitor`): ``fifo:full`` (the
  output FIFO held ``cfg.out_fifo_depth`` entries: the core's internal ``fifo.level``),
  ``input:starved`` (the core was ready for a data beat and none was offered),
  ``output:backpressure`` (a result beat was valid and tready low).
- ``b2b:<previous>-><this>`` for the nine pairs of kinds: this job's command followed the
  previous job's last result beat with no reset between them (the cycle after it when nothing
  stalls).
- ``reset:command|load|compute|drain``: this job was interrupted by a reset in that phase
  (command: before its first data beat was accepted; load: some but not all data beats
  accepted; compute: all data in, no result beat valid yet -- matmul jobs only: a pool job
  streams, its first results leave before its last data beat; drain: result beats flowing,
  the last one not yet accepted). A reset job's row has only this bin. ``reset:after``: the first
  job after such a reset (its result is checked bit-exact like any other).

Some bins cannot be hit on degenerate configs (``m_mod_r:nonzero`` with R = 1, ...):
:func:`unreachable` names them for a config, and :func:`merge` leaves them out of the closure
when given ``exclude``.
"""

from __future__ import annotations

KINDS = ("xnor", "and", "pool")
PHASES = ("command", "load", "compute", "drain")
POOL_CLASSES = ("sr_rxr/r", "branch_3x1/1", "branch_1x3/1", "branch_5x1/1", "branch_1x5/1",
                "merge_2x2/2", "gap_kxk/k", "ffn_1xg/1xg", "other")

#: bin names by group, in report order
GROUPS: dict[str, tuple[str, ...]] = {
    "mode": tuple(f"mode:{k}" for k in KINDS),
    "k_mod_simd": ("k_mod_simd:0", "k_mod_simd:nonzero"),
    "m_mod_r": ("m_mod_r:0", "m_mod_r:nonzero"),
    "n_mod_c": ("n_mod_c:0", "n_mod_c:nonzero"),
    "tiles_m": ("tiles_m:single", "tiles_m:multi"),
    "tiles_n": ("tiles_n:single", "tiles_n:multi"),
    "tiles_k": ("tiles_k:single", "tiles_k:multi"),
    "k_edge": ("k:1", "k:max"),
    "pool": tuple(f"pool:{c}" for c in POOL_CLASSES),
    "stream": ("fifo:full", "input:starved", "output:backpressure"),
    "back_to_back": tuple(f"b2b:{a}->{b}" for a in KINDS for b in KINDS),
    "reset": tuple(f"reset:{p}" for p in PHASES) + ("reset:after",),
}

#: every bin name; a merged report is closed when each has at least one hit
ALL_BINS: tuple[str, ...] = tuple(b for names in GROUPS.values() for b in names)


def job_kind(job) -> str:
    """"xnor", "and" or "pool"."""
    return "pool" if job.kind.value == "pool" else job.mode


def pool_classes(job) -> list[str]:
    """The BinaryViT pool classes (:data:`POOL_CLASSES`) of a pool job's kernel, stride and
    padding; ``["other"]`` when it is in none."""
    kh, kw = job.kernel
    sh, sw = job.stride
    pad = tuple(job.padding)
    h, w = job.h, job.w
    out = []
    gap = (kh, kw) == (h, w) and pad == (0, 0) and h * w > 1
    if gap:
        out.append("gap_kxk/k")
    if not gap and kh == kw >= 2 and (sh, sw) == (kh, kw) and pad == (0, 0):
        out.append("sr_rxr/r")
        if kh == 2:
            out.append("merge_2x2/2")
    if (sh, sw) == (1, 1):
        for (ah, aw), p in (((3, 1), (1, 0)), ((1, 3), (0, 1)), ((5, 1), (2, 0)),
                            ((1, 5), (0, 2))):
            if (kh, kw) == (ah, aw) and pad == p:
                out.append(f"branch_{ah}x{aw}/1")
    if kh == sh == 1 and kw == sw >= 2 and pad == (0, 0) and not gap:
        out.append("ffn_1xg/1xg")
    return out or ["other"]


def shape_bins(cfg, job) -> list[str]:
    """The bins a job hits by its kind and shape alone (no simulation needed)."""
    kind = job_kind(job)
    bins = [f"mode:{kind}"]
    if kind == "pool":
        return bins + [f"pool:{c}" for c in pool_classes(job)]
    m, n, k = job.m, job.n, job.k
    bins += [
        f"k_mod_simd:{'0' if k % cfg.simd == 0 else 'nonzero'}",
        f"m_mod_r:{'0' if m % cfg.rows == 0 else 'nonzero'}",
        f"n_mod_c:{'0' if n % cfg.cols == 0 else 'nonzero'}",
        f"tiles_m:{'single' if m <= cfg.rows else 'multi'}",
        f"tiles_n:{'single' if n <= cfg.cols else 'multi'}",
        f"tiles_k:{'single' if k <= cfg.simd else 'multi'}",
    ]
    if k == 1:
        bins.append("k:1")
    if k == cfg.max_k:
        bins.append("k:max")
    return bins


def stream_bins(*, fifo_full: bool, starved: bool, backpressure: bool) -> list[str]:
    """The stream-condition bins of what a monitor saw."""
    return [name for name, hit in (("fifo:full", fifo_full), ("input:starved", starved),
                                   ("output:backpressure", backpressure)) if hit]


def transition_bin(previous: str, kind: str) -> str:
    """The back-to-back bin of a job of ``kind`` right after one of kind ``previous``."""
    return f"b2b:{previous}->{kind}"


def unreachable(cfg) -> set[str]:
    """Bins that no legal job can hit on ``cfg`` (e.g. ``m_mod_r:nonzero`` when R = 1)."""
    out = set()
    if cfg.rows == 1:
        out.add("m_mod_r:nonzero")
    if cfg.cols == 1:
        out.add("n_mod_c:nonzero")
    if cfg.simd == 1:
        out.add("k_mod_simd:nonzero")
    if cfg.max_k <= cfg.simd:
        out.add("tiles_k:multi")
    if cfg.max_m <= cfg.rows:
        out.add("tiles_m:multi")
    if cfg.max_n <= cfg.cols:
        out.add("tiles_n:multi")
    return out


def merge(rows, exclude=()) -> dict:
    """Hit counts of every bin over result rows (their ``"cover"`` lists; rows without one
    count as jobs with no bins). Returns {"jobs", "bins": {name: hits} for every name of
    :data:`ALL_BINS` in order, "covered", "total", "percent", "missing": names with no hit,
    "excluded": names left out of the closure, "unknown": {name: hits} of names not in
    ALL_BINS (from a newer testbench, say), "closed": every counted bin hit}."""
    hits = dict.fromkeys(ALL_BINS, 0)
    unknown: dict[str, int] = {}
    jobs = 0
    for row in rows:
        jobs += 1
        for name in row.get("cover") or ():
            if name in hits:
                hits[name] += 1
            else:
                unknown[name] = unknown.get(name, 0) + 1
    excluded = [b for b in ALL_BINS if b in set(exclude)]
    counted = [b for b in ALL_BINS if b not in excluded]
    missing = [b for b in counted if not hits[b]]
    covered = len(counted) - len(missing)
    return {"jobs": jobs, "bins": hits, "covered": covered, "total": len(counted),
            "percent": round(100.0 * covered / len(counted), 1) if counted else 100.0,
            "missing": missing, "excluded": excluded, "unknown": unknown,
            "closed": not missing}


def report_text(merged: dict) -> str:
    """The merged coverage as text: a summary line, one line per group (each bin with its
    hits, ``-`` for excluded bins) and the missing bins."""
    lines = [f"coverage: {merged['covered']} of {merged['total']} bins hit "
             f"({merged['percent']:.1f} %) over {merged['jobs']} jobs"
             + ("" if merged["closed"] else f", {len(merged['missing'])} missing")]
    excluded = set(merged.get("excluded", ()))
    bins = merged["bins"]
    width = max(len(g) for g in GROUPS)
    for group, names in GROUPS.items():
        cells = []
        for name in names:
            label = name.split(":", 1)[1]
            count = "-" if name in excluded else str(bins.get(name, 0))
            cells.append(f"{label} {count}")
        lines.append(f"  {group:<{width}}  " + ", ".join(cells))
    if merged["missing"]:
        lines.append("  missing: " + ", ".join(merged["missing"]))
    if merged.get("unknown"):
        lines.append("  unknown bins: " + ", ".join(f"{k} {v}" for k, v in
                                                   sorted(merged["unknown"].items())))
    return "\n".join(lines)


_SAMPLER = None


def sample(bins) -> None:
    """Record one job's bins in cocotb-coverage's ``coverage_db`` (one cover point per group,
    named ``bvit.<group>``; a bin is hit when the job's list names it)."""
    global _SAMPLER
    if _SAMPLER is None:
        from cocotb_coverage.coverage import CoverPoint

        def in_list(names, bin_name):
            return bin_name in names

        def fn(names):
            return None

        for group, names in GROUPS.items():
            fn = CoverPoint(f"bvit.{group}", xf=lambda names: names, rel=in_list,
                            bins=list(names), inj=False)(fn)
        _SAMPLER = fn
    _SAMPLER(frozenset(bins))


def report_db(log) -> None:
    """Write cocotb-coverage's report of this process's ``coverage_db`` (bins included) with
    ``log`` (e.g. ``dut._log.info``); nothing when nothing was sampled."""
    if _SAMPLER is None:
        return
    from cocotb_coverage.coverage import coverage_db

    coverage_db.report_coverage(log, bins=True, node="bvit")
