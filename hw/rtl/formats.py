"""Beat formats of the three streams, shared by the RTL and the testbench drivers.

The command beat is an :class:`amaranth.lib.data.StructLayout` built from the config; Python
packs/unpacks it with the same field offsets (:func:`pack_cmd`), so the layout has one owner.
See hw/README.md for the tables.
"""

from __future__ import annotations

from amaranth.lib import data

from ..config import ArrayConfig, ceil_div
from ..ops import OpKind

OP_XNOR, OP_AND, OP_POOL = 0, 1, 2
OPCODES = {"xnor": OP_XNOR, "and": OP_AND, "pool": OP_POOL}

#: the top's port-name prefixes (command, data, result) of each core: ``core`` takes every
#: job, or only the matmuls when ``pool_port`` = 1 and ``pool_core`` takes the pools
STREAM_PORTS = {"core": ("s_axis_cmd", "s_axis_data", "m_axis_res"),
                "pool_core": ("s_axis_pool_cmd", "s_axis_pool_data", "m_axis_pool_res")}


def core_of(cfg: ArrayConfig, job) -> str:
    """The core (a key of :data:`STREAM_PORTS`) that runs ``job`` on ``cfg``."""
    return "pool_core" if cfg.pool_port and job.kind is OpKind.POOL else "core"


def cores_of(cfg: ArrayConfig) -> tuple[str, ...]:
    """The cores of ``cfg``'s top (keys of :data:`STREAM_PORTS`)."""
    return ("core", "pool_core") if cfg.pool_port else ("core",)


def cmd_layout(cfg: ArrayConfig) -> data.StructLayout:
    """Layout of one command beat (one per job). With ``keep_weights`` a last field,
    ``keep_w`` (1 bit): the matmul job uses the weights in the weight banks (its data beats
    are A only); without it the layout is as before the field existed."""
    kmax = cfg.pool_max_kernel
    keep = {"keep_w": 1} if cfg.keep_weights else {}
    return data.StructLayout({
        "op": 2,                                  # 0 xnor matmul, 1 and matmul, 2 pool
        "m": range(cfg.max_m + 1),
        "n": range(cfg.max_n + 1),
        "k": range(cfg.max_k + 1),
        "p": range(cfg.pool_max_planes + 1),
        "h": range(cfg.pool_max_dim + 1),
        "w": range(cfg.pool_max_dim + 1),
        "kh": range(kmax + 1),
        "kw": range(kmax + 1),
        "sh": range(kmax + 1),
        "sw": range(kmax + 1),
        "ph": range(kmax + 1),
        "pw": range(kmax + 1),
        **keep,
    })


def cmd_width(cfg: ArrayConfig) -> int:
    """AXI tdata width of the command stream (the layout rounded up to whole bytes)."""
    return ceil_div(cmd_layout(cfg).size, 8) * 8


def cmd_fields(cfg: ArrayConfig) -> list[tuple[str, int, int]]:
    """(name, bit offset, width) of every command field, LSB first."""
    return [(name, f.offset, f.width) for name, f in cmd_layout(cfg)]


def pack_cmd(cfg: ArrayConfig, **values) -> int:
    """Pack named command fields into the integer of a command beat (missing fields = 0)."""
    word = 0
    fields = {name: (off, width) for name, off, width in cmd_fields(cfg)}
    for name, value in values.items():
        off, width = fields[name]
        value = int(value)
        if not 0 <= value < (1 << width):
            raise ValueError(f"command field {name}={value} does not fit {width} bits")
        word |= value << off
    return word


def matmul_cmd(cfg: ArrayConfig, mode: str, m: int, n: int, k: int,
               keep_w: bool = False) -> int:
    """Command beat of a matmul job; ``keep_w``: it keeps the weights of the job before
    (``cfg.keep_weights`` only)."""
    if keep_w and not cfg.keep_weights:
        raise ValueError("keep_w needs a config with keep_weights 1")
    return pack_cmd(cfg, op=OPCODES[mode], m=m, n=n, k=k, **({"keep_w": 1} if keep_w else {}))


def pool_cmd(cfg: ArrayConfig, planes, h, w, kernel, stride, padding) -> int:
    """Command beat of a pool job."""
    return pack_cmd(cfg, op=OP_POOL, p=planes, h=h, w=w, kh=kernel[0], kw=kernel[1],
                    sh=stride[0], sw=stride[1], ph=padding[0], pw=padding[1])


# ---- data words and result beats (Python side of the same formats) -----------------------------

def _rows_to_words(bits, simd: int, pad_rng=None) -> list[int]:
    """(rows, K) 0/1 -> row-major list of ceil(K/simd) words per row; bit k in word k // simd.
    Bits past K in each row's last word are 0, or random bits drawn from the numpy Generator
    ``pad_rng`` (the hardware must ignore them)."""
    import numpy as np

    bits = np.asarray(bits, dtype=np.uint8)
    kw = ceil_div(bits.shape[1], simd)
    padded = np.zeros((bits.shape[0], kw * simd), dtype=np.uint8)
    if pad_rng is not None:
        padded[:, bits.shape[1]:] = pad_rng.integers(0, 2, (bits.shape[0],
                                                            kw * simd - bits.shape[1]))
    padded[:, :bits.shape[1]] = bits
    packed = np.packbits(padded, axis=1, bitorder="little").reshape(bits.shape[0], kw, simd // 8)
    return [int.from_bytes(packed[r, w].tobytes(), "little")
            for r in range(bits.shape[0]) for w in range(kw)]


def _group_rows(words: list[int], rows: int, kw: int, g: int, simd: int, pad_rng=None):
    """Row-major words of ``rows`` rows (``kw`` each) -> load beats of G = ``g`` rows: for
    each group of G consecutive rows, word k of its row j in bits [j*simd, (j+1)*simd) of beat
    k. Rows past ``rows`` in the last group: 0, or random from ``pad_rng``."""
    if g == 1:
        return words
    beats = []
    for first in range(0, rows, g):
        for k in range(kw):
            beat = 0
            for j in range(g):
                r = first + j
                w = (words[r * kw + k] if r < rows else
                     0 if pad_rng is None else int(pad_rng.integers(0, 1 << min(simd, 62))))
                beat |= w << (j * simd)
            beats.append(beat)
    return beats


def matmul_words(cfg: ArrayConfig, job, pad_rng=None, keep_w: bool = False) -> list[int]:
    """Data beats of a matmul job: N rows of W (none with ``keep_w``: the weight banks keep
    the previous job's), then M rows of A (so that tiles can start while later A rows load),
    ceil(K/simd) words each, G = ``load_rows_eff`` rows per beat:
    beat k of a group of G consecutive rows holds word k of its row j in bits
    [j*simd, (j+1)*simd) (:func:`_group_rows`; G = 1: one word in the low ``simd`` bits).
    Bits past K, rows past N or M in a last group and bits above G*simd: 0, or random from
    ``pad_rng``."""
    g, s = cfg.load_rows_eff, cfg.simd
    kw = ceil_div(job.k, s)
    words = (([] if keep_w else
              _group_rows(_rows_to_words(job.w_bits, s, pad_rng), job.n, kw, g, s, pad_rng))
             + _group_rows(_rows_to_words(job.a_bits, s, pad_rng), job.m, kw, g, s, pad_rng))
    spare = cfg.data_width - g * cfg.simd
    if pad_rng is not None and spare:
        words = [w | (int(pad_rng.integers(0, 1 << min(spare, 62))) << (g * s)) for w in words]
    return words


def pool_words(cfg: ArrayConfig, job, pad_rng=None) -> list[int]:
    """Data beats of a pool job: positions in (plane group, row, column) order over the rows
    and columns some window touches (:func:`hw.ops.pool_extent`, real ones only); a position
    holds the values of planes g*L .. g*L+L-1 (L = ``pool_lanes_eff``) at (y, x), one
    ``data_width``-bit beat, lane l in bits l*pool_bits .., ``pool_bits`` two's complement.
    Lanes of planes past P and bits past the lanes: 0, or random from ``pad_rng``."""
    import numpy as np

    from ..ops import pool_extent

    lanes, b = cfg.pool_lanes_eff, cfg.pool_bits
    p_, h_, w_ = job.x.shape
    yn, xn = pool_extent(h_, w_, job.kernel, job.stride, job.padding)
    hu, wu = min(h_, yn), min(w_, xn)
    groups = ceil_div(p_, lanes)
    planes = np.zeros((groups * lanes, hu, wu), dtype=np.int64)
    planes[:p_] = job.x[:, :hu, :wu]
    if pad_rng is not None and groups * lanes > p_:
        planes[p_:] = pad_rng.integers(-(1 << (b - 1)), 1 << (b - 1), planes[p_:].shape)
    mask = (1 << b) - 1
    spare = cfg.data_width - lanes * b
    words = []
    for g in range(groups):
        vals = planes[g * lanes:(g + 1) * lanes] & mask          # (L, hu, wu)
        for y in range(hu):
            for x in range(wu):
                pos = 0
                for lane in range(lanes):
                    pos |= int(vals[lane, y, x]) << (lane * b)
                if pad_rng is not None and spare:
                    pos |= int(pad_rng.integers(0, 1 << min(spare, 62))) << (lanes * b)
                words.append(pos)
    return words


def job_cmd(cfg: ArrayConfig, job, keep_w: bool = False) -> int:
    """The command beat of any job (``keep_w``: a matmul that keeps the previous job's
    weights, :func:`hw.ops.keep_flags`)."""
    if job.kind is OpKind.MATMUL:
        return matmul_cmd(cfg, job.mode, job.m, job.n, job.k, keep_w)
    return pool_cmd(cfg, job.planes, job.h, job.w, job.kernel, job.stride, job.padding)


def job_words(cfg: ArrayConfig, job, pad_rng=None, keep_w: bool = False) -> list[int]:
    """The data beats of any job; ``pad_rng`` (a numpy Generator): random bits past K (matmul)
    or random lanes past W (pool) instead of zeros, which the hardware must ignore;
    ``keep_w``: a matmul's A rows only."""
    if job.kind is OpKind.MATMUL:
        return matmul_words(cfg, job, pad_rng, keep_w)
    return pool_words(cfg, job, pad_rng)


def lanes_of(cfg: ArrayConfig, tdata: int) -> list[int]:
    """Signed lane values of one result beat, all D*C of them, row slot by row slot: lane
    (d, c) is item d*C + c (:func:`slots_of` groups them)."""
    lw = cfg.lane_width
    out = []
    for i in range(cfg.drain_rows_eff * cfg.cols):
        v = (tdata >> (i * lw)) & ((1 << lw) - 1)
        out.append(v - (1 << lw) if v >> (lw - 1) else v)
    return out


def slots_of(cfg: ArrayConfig, tdata: int) -> list[list[int]]:
    """The D row slots of one result beat, each the C signed lanes of one tile row."""
    lanes, C = lanes_of(cfg, tdata), cfg.cols
    return [lanes[d * C:(d + 1) * C] for d in range(cfg.drain_rows_eff)]


def tile_beats_of(cfg: ArrayConfig, rows: int) -> int:
    """Result beats of a tile with ``rows`` valid rows: ceil(rows / D)."""
    return ceil_div(rows, cfg.drain_rows_eff)


def expected_beats(cfg: ArrayConfig, job) -> int:
    """Number of result beats of a job: matmul, ceil(m_valid / D) per tile (Tm - 1 tile rows
    of R rows and one of m_l rows, Tn tiles each); pool, one per output."""
    if job.kind is OpKind.MATMUL:
        tm = ceil_div(job.m, cfg.rows)
        m_l = job.m - (tm - 1) * cfg.rows
        per_column = (tm - 1) * tile_beats_of(cfg, cfg.rows) + tile_beats_of(cfg, m_l)
        return per_column * ceil_div(job.n, cfg.cols)
    ho, wo = job.out_hw
    return ceil_div(job.planes, cfg.pool_lanes_eff) * ho * wo


def decode_results(cfg: ArrayConfig, job, beats: list[int]):
    """Result beats (tdata ints, in arrival order) -> the job's result array (int64).

    Matmul: beats go tile by tile (tile row, then tile column), ceil(m_valid / D) beats per
    tile; row slot d of the tile's beat b is tile row b*D + d, lane c = column n0 + c. Pool:
    one beat per output position in (plane group, Ho, Wo) order, pool lane l (plane
    g * L + l, L = ``pool_lanes_eff`` <= D * C) in row slot l // C, lane l % C (item l of
    :func:`lanes_of`). Raises ValueError if the number of beats is wrong (a lost or
    duplicated beat) or a lane outside the results (a slot past the tile's rows, a lane past
    N, a pool beat's lanes past L or past P) is not zero.
    """
    import numpy as np

    want = expected_beats(cfg, job)
    if len(beats) != want:
        raise ValueError(f"{job.name}: got {len(beats)} result beats, expected {want}")

    def padding_zero(i, lanes, used):
        bad = [j for j, v in enumerate(lanes) if v and j not in used]
        if bad:
            d, c = divmod(bad[0], cfg.cols)
            raise ValueError(f"{job.name}: result beat {i} has {lanes[bad[0]]} in row slot {d} "
                             f"lane {c}, outside the results, where the format has 0")

    if job.kind is OpKind.POOL:
        lanes = cfg.pool_lanes_eff
        p_, ho, wo = job.out_shape
        groups = ceil_div(p_, lanes)
        per_group = ho * wo
        got = []
        for i, b in enumerate(beats):
            vals = lanes_of(cfg, b)
            base = (i // per_group) * lanes
            padding_zero(i, vals, {lane for lane in range(lanes) if base + lane < p_})
            got.append(vals[:lanes])
        got = np.array(got, dtype=np.int64).reshape(groups, ho, wo, lanes).transpose(0, 3, 1, 2)
        return got.reshape(groups * lanes, ho, wo)[:p_]
    R, C, D = cfg.rows, cfg.cols, cfg.drain_rows_eff
    out = np.zeros((job.m, job.n), dtype=np.int64)
    it = enumerate(beats)
    for m0 in range(0, job.m, R):
        mv = min(R, job.m - m0)
        for n0 in range(0, job.n, C):
            nv = min(C, job.n - n0)
            for r0 in range(0, mv, D):
                i, beat = next(it)
                lanes = lanes_of(cfg, beat)
                rows = min(D, mv - r0)
                padding_zero(i, lanes, {d * C + c for d in range(rows) for c in range(nv)})
                for d in range(rows):
                    out[m0 + r0 + d, n0:n0 + nv] = lanes[d * C:d * C + nv]
    return out


def out_layout(cfg: ArrayConfig) -> data.StructLayout:
    """Result beat: D row slots of C signed lanes of ``lane_width`` bits (lane (d, c) at bits
    [(d*C + c)*lane_width, ...)) and ``last``. A pool beat fills the D*C lanes in this order
    with its L = ``pool_lanes_eff`` sums: pool lane l in slot l // C, lane l % C."""
    return data.StructLayout({"data": cfg.out_width, "last": 1})
