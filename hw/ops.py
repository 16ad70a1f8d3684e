"""The op model: every array op kind as one class, the single form in which an op travels from
the model's trace to the golden files, the testbenches, the network cost model, the DSE and the
reports.

An op carries its shape and, when it was traced or loaded with data, its operands and exact
integer result. Each class knows, for its kind:

- the golden execution from the operands (:meth:`golden`),
- whether it is legal on an :class:`~hw.config.ArrayConfig` (:meth:`check`) and its split into
  legal sub-jobs (:meth:`legal_jobs`, shape-only ops with counts),
- its cycles on the array (:meth:`cycles`, from the cycle model :mod:`hw.cost.cycles`, proven
  equal to the RTL), summed over its sub-jobs (:meth:`total_cycles`),
- its file format (:meth:`save`, :func:`load_op`; helpers in :mod:`hw.opfile`).

Kinds (:class:`OpKind`):

- *matmul*: activation bits A (M x K), weight bits W (N x K), a mode, result M x N.
  ``xnor``: both operands +-1 (bit 1 = +1, bit 0 = -1); result[m, n] = 2 * popcount(XNOR) - K.
  ``and``: A is a 0/1 mask (bit 1 = 1), W is +-1; result = 2 * popcount(a AND w) - popcount(a)
  (A.V of the binary attention).
- *pool*: integer window sums over signed fixed-point planes X (P, H, W) (integers q, value
  q * 2**-frac_bits, ``bits``-bit two's complement), window (kh, kw), stride, zero padding;
  result[p, i, j] is the window sum, padding counted as zeros. The float model's average pooling
  is result / (kh * kw) * 2**-frac_bits (count_include_pad=True); the division is not part of
  the op.

Adding a kind: a new :class:`OpKind` member and a class with the same methods, registered in
:data:`OP_CLASSES`.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from .config import ArrayConfig, ConfigError, ceil_div
from .opfile import FORMAT_VERSION, JobError, pack_bits, unpack_bits, write_npz

MATMUL_MODES = ("xnor", "and")
#: matmul groups of the network model: weight layers, patch merges, attention products
MATMUL_GROUPS = ("linear", "merge", "attention")


class OpKind(enum.Enum):
    """The kinds of array op (the value is the name used in files and reports)."""

    MATMUL = "matmul"
    POOL = "pool"


def as_pair(value, what: str = "value") -> tuple[int, int]:
    """One int or a pair of ints -> (int, int); JobError otherwise."""
    vals = tuple(int(v) for v in np.atleast_1d(value))
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2:
        raise JobError(f"{what} must be one int or a pair, got {value!r}")
    return vals


def chunks(total: int, limit: int) -> list[int]:
    """Greedy chunks of at most ``limit`` summing to ``total`` (full chunks, remainder last)."""
    q, r = divmod(total, limit)
    return [limit] * q + ([r] if r else [])


def matmul_group(name: str, mode: str) -> str:
    """The network-model group of a matmul, from its mode and its traced name."""
    if mode == "and" or name.endswith(".scores") or name.endswith(".context"):
        return "attention"
    return "merge" if ".merge." in name else "linear"


def pool_out_shape(h: int, w: int, kernel, stride, padding) -> tuple[int, int]:
    """(Ho, Wo) of a window of `kernel` moved by `stride` over (h, w) zero-padded by `padding`."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def pool_extent(h: int, w: int, kernel, stride, padding) -> tuple[int, int]:
    """(Yn, Xn): the input rows and columns, padding included, up to the last window's end,
    counted from the first real row / column: (Ho - 1) * sh - ph + kh and likewise for W.
    The pool unit walks these; rows and columns of the input past them (no window touches
    them) are not sent."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    ho, wo = pool_out_shape(h, w, kernel, stride, padding)
    return (ho - 1) * sh - ph + kh, (wo - 1) * sw - pw + kw


def window_sums(x: np.ndarray, kernel, stride, padding) -> np.ndarray:
    """Integer window sums (P, Ho, Wo) of integer planes x (P, H, W) with zero padding."""
    x = np.asarray(x, dtype=np.int64)
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    p, h, w = x.shape
    xp = np.zeros((p, h + 2 * ph, w + 2 * pw), dtype=np.int64)
    xp[:, ph:ph + h, pw:pw + w] = x
    ho, wo = pool_out_shape(h, w, kernel, stride, padding)
    out = np.zeros((p, ho, wo), dtype=np.int64)
    for di in range(kh):
        for dj in range(kw):
            out += xp[:, di:di + sh * (ho - 1) + 1:sh, dj:dj + sw * (wo - 1) + 1:sw]
    return out


def _data(default=None):
    """A dataclass field for operand/result arrays: not part of equality or hashing, so
    shape-only ops can be counted in a :class:`collections.Counter`."""
    return field(default=default, compare=False, repr=False)


def _check_result(op, shape) -> None:
    if op.result is not None:
        r = np.asarray(op.result)
        if r.shape != tuple(shape):
            raise JobError(f"op {op.name}: result has shape {r.shape}, expected {tuple(shape)}")
        object.__setattr__(op, "result", r.astype(np.int64))


class _OpMethods:
    """What every op kind shares: the sum over legal sub-jobs, the result from the golden
    execution and the file header. Each kind supplies ``golden``, ``legal_jobs``, ``cycles``
    and ``_payload`` (its arrays for the file)."""

    def _sizes_at_least_one(self, names, message: str) -> None:
        """Make the fields ``names`` plain ints, or raise JobError(``message``) unless each is a
        whole number >= 1."""
        for what in names:
            v = getattr(self, what)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise JobError(f"op {self.name}: {message}")
            object.__setattr__(self, what, int(v))

    def with_result(self):
        """This op with ``result`` set to :meth:`golden`."""
        return replace(self, result=self.golden())

    def total_cycles(self, cfg: ArrayConfig) -> int:
        """Array cycles of all legal sub-jobs."""
        return sum(n * job.cycles(cfg) for job, n in self.legal_jobs(cfg).items())

    def save(self, path) -> None:
        """Write the op as an ``.npz`` (needs its operands and result)."""
        if self.result is None:
            raise JobError(f"op {self.name}: no result to save; call with_result() first")
        write_npz(path, dict(format_version=FORMAT_VERSION, kind=self.kind.value,
                             name=self.name, **self._payload()))


@dataclass(frozen=True)
class MatmulOp(_OpMethods):
    """One binary matmul: M x K activation bits times N x K weight bits (or, for the attention
    products, a second activation operand), in ``mode`` xnor or and.

    ``a_bits`` (M x K), ``w_bits`` (N x K) and ``result`` (M x N, int64) are optional: a
    shape-only op (the network model, sub-jobs) has none. ``group`` is the network-model group
    (linear, merge, attention); by default it follows from the name and mode
    (:func:`matmul_group`).
    """

    name: str
    mode: str
    m: int
    n: int
    k: int
    group: str = ""
    a_bits: np.ndarray | None = _data()
    w_bits: np.ndarray | None = _data()
    result: np.ndarray | None = _data()
    meta: dict = field(default_factory=dict, compare=False, repr=False)

    kind: ClassVar[OpKind] = OpKind.MATMUL

    def __post_init__(self):
        if self.mode not in MATMUL_MODES:
            raise JobError(f"op {self.name}: unknown mode {self.mode!r}; use one of {MATMUL_MODES}")
        self._sizes_at_least_one(("m", "n", "k"), f"M, N and K must all be >= 1, got "
                                 f"M={self.m}, N={self.n}, K={self.k}")
        object.__setattr__(self, "group", self.group or matmul_group(self.name, self.mode))
        if self.group not in MATMUL_GROUPS:
            raise JobError(f"op {self.name}: unknown group {self.group!r}; use one of "
                           f"{MATMUL_GROUPS}")
        if (self.a_bits is None) != (self.w_bits is None):
            raise JobError(f"op {self.name}: give both a_bits and w_bits, or neither")
        if self.a_bits is not None:
            for what, arr, rows in (("a_bits", self.a_bits, self.m), ("w_bits", self.w_bits, self.n)):
                arr = np.asarray(arr)
                if arr.shape != (rows, self.k):
                    raise JobError(f"op {self.name}: {what} has shape {arr.shape}, expected "
                                   f"({rows}, {self.k})")
                if not np.isin(arr, (0, 1)).all():
                    raise JobError(f"op {self.name}: {what} must hold only 0 and 1")
                object.__setattr__(self, what, arr.astype(np.uint8))
        _check_result(self, (self.m, self.n))

    @classmethod
    def from_bits(cls, name: str, mode: str, a_bits, w_bits, result=None, *, group: str = "",
                  meta: dict | None = None) -> "MatmulOp":
        """An op with operands A (M x K) and W (N x K); the shape is taken from them."""
        a, w = np.asarray(a_bits), np.asarray(w_bits)
        if a.ndim != 2 or w.ndim != 2:
            raise JobError(f"op {name}: a_bits and w_bits must be 2-D, got {a.shape}, {w.shape}")
        if a.shape[1] != w.shape[1]:
            raise JobError(f"op {name}: K disagrees: a_bits is {a.shape}, w_bits is {w.shape}")
        return cls(name, mode, a.shape[0], w.shape[0], a.shape[1], group, a, w, result,
                   meta or {})

    # ---- shape ----------------------------------------------------------------------------
    @property
    def shape(self) -> dict:
        return {"m": self.m, "n": self.n, "k": self.k}

    @property
    def label(self) -> str:
        """The shape in one word: ``MxNxK``."""
        return f"{self.m}x{self.n}x{self.k}"

    @property
    def outputs(self) -> int:
        return self.m * self.n

    @property
    def macs(self) -> int:
        """Useful binary MACs: M * N * K."""
        return self.m * self.n * self.k

    @property
    def weight_bits(self) -> int:
        """Stored binary weights (N x K) of a weight layer; 0 for the attention products,
        whose both operands are activations."""
        return self.n * self.k if self.group != "attention" else 0

    def shape_only(self) -> "MatmulOp":
        """This op without operands and result."""
        return replace(self, a_bits=None, w_bits=None, result=None, meta={})

    # ---- golden execution -----------------------------------------------------------------
    def golden(self) -> np.ndarray:
        """Exact result (M x N, int64) recomputed from the bits (independent of ``result``)."""
        if self.a_bits is None:
            raise JobError(f"op {self.name}: a shape-only op has no bits to execute")
        a = self.a_bits.astype(np.int64)
        w_pm = 2 * self.w_bits.astype(np.int64) - 1
        return ((2 * a - 1) if self.mode == "xnor" else a) @ w_pm.T

    # ---- on an array ------------------------------------------------------------------------
    def check(self, cfg: ArrayConfig) -> None:
        """Raise :class:`~hw.config.ConfigError` unless this op is one legal job of ``cfg``."""
        for what, val, lim, flag in (("M", self.m, cfg.max_m, "max_m"),
                                     ("N", self.n, cfg.max_n, "max_n"),
                                     ("K", self.k, cfg.max_k, "max_k")):
            if val > lim:
                raise ConfigError(f"job {self.name}: {what}={val} is above the array's "
                                  f"{flag}={lim}; build a config with {flag} >= {val} "
                                  f"(--{flag.replace('_', '-')}) or split the job")

    def legal_jobs(self, cfg: ArrayConfig) -> Counter:
        """Shape-only legal sub-jobs with counts: greedy chunks of max_m rows along M, max_n
        along N and max_k along K (the K chunks' integer partial results add exactly)."""
        out = Counter()
        for mi in chunks(self.m, cfg.max_m):
            for ni in chunks(self.n, cfg.max_n):
                for ki in chunks(self.k, cfg.max_k):
                    out[MatmulOp(self.name, self.mode, mi, ni, ki, self.group)] += 1
        for job in out:
            job.check(cfg)
        return out

    def weight_reload_cycles(self, cfg: ArrayConfig) -> int:
        """W load cycles of this op's M chunks after the first (:meth:`legal_jobs`): what
        keeping a layer's weights in the operand banks across its M chunks would save, with
        the chunks of one N, K chunk run back to back (each reloads the same ceil(n/G) * KW
        beats today; :func:`hw.cost.cycles.matmul_terms` ``w_load``)."""
        from .config import load_beats

        return self._later_m_chunks(cfg) * sum(load_beats(ni, cfg.load_rows_eff) * ceil_div(ki, cfg.simd)
                           for ni in chunks(self.n, cfg.max_n)
                           for ki in chunks(self.k, cfg.max_k))

    def weight_reload_bits(self, cfg: ArrayConfig) -> int:
        """Weight bits that the M chunks after the first stream again (:meth:`legal_jobs`):
        the off-chip weight traffic that keeping the weights across them saves (0 for the
        attention products, which stream no weights)."""
        if self.group == "attention":
            return 0
        return self._later_m_chunks(cfg) * self.n * self.k

    def _later_m_chunks(self, cfg: ArrayConfig) -> int:
        """M chunks of :meth:`legal_jobs` after the first (each reloads the same weights)."""
        return len(chunks(self.m, cfg.max_m)) - 1

    def k_splits(self, cfg: ArrayConfig) -> int:
        """Number of K chunks of :meth:`legal_jobs` (their partial sums are added outside)."""
        return len(chunks(self.k, cfg.max_k))

    def cycles(self, cfg: ArrayConfig, keep_w: bool = False) -> int:
        """Array cycles of this op as one job (:func:`hw.cost.cycles.matmul_cycles`;
        ``keep_w``: keeping the previous job's weights, :func:`keep_flags`)."""
        from .cost.cycles import matmul_cycles

        return matmul_cycles(cfg, self.m, self.n, self.k, keep_w)

    # ---- file format ------------------------------------------------------------------------
    def _payload(self) -> dict:
        return dict(mode=self.mode, m=self.m, n=self.n, k=self.k, a_bits=pack_bits(self.a_bits),
                    w_bits=pack_bits(self.w_bits), result=self.result.astype(np.int32))

    @classmethod
    def from_npz(cls, name: str, z, need) -> "MatmulOp":
        """The op stored in an opened ``.npz`` (``need(*keys)`` checks the keys are there)."""
        need("mode", "m", "n", "k", "a_bits", "w_bits", "result")
        m, n, k = int(z["m"]), int(z["n"]), int(z["k"])
        a, w = unpack_bits(z["a_bits"], k), unpack_bits(z["w_bits"], k)
        if a.shape[0] != m or w.shape[0] != n:
            raise JobError(f"header says M={m}, N={n} but a_bits has {a.shape[0]} rows "
                           f"and w_bits {w.shape[0]}")
        return cls.from_bits(name, str(z["mode"]), a, w, z["result"])


@dataclass(frozen=True)
class PoolOp(_OpMethods):
    """Integer window sums over ``planes`` planes of H x W signed fixed-point values.

    ``x`` (P, H, W integers) and ``result`` (P, Ho, Wo) are optional: a shape-only op has
    neither. ``bits`` is the two's-complement width of the values (shape-only ops: None, the
    array's ``pool_bits``); ``frac_bits`` their binary point.
    """

    name: str
    planes: int
    h: int
    w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    bits: int | None = None
    frac_bits: int = 0
    x: np.ndarray | None = _data()
    result: np.ndarray | None = _data()
    meta: dict = field(default_factory=dict, compare=False, repr=False)

    kind: ClassVar[OpKind] = OpKind.POOL
    group: ClassVar[str] = "pool"
    mode: ClassVar[str] = "pool"
    weight_bits: ClassVar[int] = 0

    def __post_init__(self):
        self._sizes_at_least_one(("planes", "h", "w"), f"x must be (P, H, W) with every size "
                                 f">= 1, got {(self.planes, self.h, self.w)}")
        kernel, stride = as_pair(self.kernel, "kernel"), as_pair(self.stride, "stride")
        padding = as_pair(self.padding, "padding")
        if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
            raise JobError(f"op {self.name}: kernel/stride must be >= 1 and padding >= 0, got "
                           f"{kernel}, {stride}, {padding}")
        if kernel[0] > self.h + 2 * padding[0] or kernel[1] > self.w + 2 * padding[1]:
            raise JobError(f"op {self.name}: window {kernel} larger than padded input "
                           f"{(self.h, self.w)}")
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "padding", padding)
        object.__setattr__(self, "frac_bits", int(self.frac_bits))
        if self.bits is not None:
            if not 2 <= int(self.bits) <= 32:
                raise JobError(f"op {self.name}: bits must be in 2..32, got {self.bits}")
            object.__setattr__(self, "bits", int(self.bits))
        if self.x is not None:
            x = np.asarray(self.x)
            if x.shape != (self.planes, self.h, self.w):
                raise JobError(f"op {self.name}: x has shape {x.shape}, expected "
                               f"{(self.planes, self.h, self.w)}")
            if not np.issubdtype(x.dtype, np.integer):
                raise JobError(f"op {self.name}: x must hold integers (fixed-point), got {x.dtype}")
            if self.bits is None:
                raise JobError(f"op {self.name}: an op with values needs their width (bits)")
            lo, hi = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
            if x.size and (x.min() < lo or x.max() > hi):
                raise JobError(f"op {self.name}: x has values outside {self.bits}-bit two's "
                               f"complement [{lo}, {hi}]")
            object.__setattr__(self, "x", x.astype(np.int64))
        _check_result(self, self.out_shape)

    @classmethod
    def from_values(cls, name: str, x, frac_bits: int, bits: int, kernel, stride,
                    padding=(0, 0), result=None, *, meta: dict | None = None) -> "PoolOp":
        """An op over the integer planes ``x`` (P, H, W); the shape is taken from them."""
        x = np.asarray(x)
        if x.ndim != 3 or min(x.shape) < 1:
            raise JobError(f"op {name}: x must be (P, H, W) with every size >= 1, got {x.shape}")
        return cls(name, *x.shape, kernel, stride, padding, bits, frac_bits, x, result,
                   meta or {})

    # ---- shape ----------------------------------------------------------------------------
    @property
    def out_hw(self) -> tuple[int, int]:
        return pool_out_shape(self.h, self.w, self.kernel, self.stride, self.padding)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.planes, *self.out_hw)

    @property
    def outputs(self) -> int:
        ho, wo = self.out_hw
        return self.planes * ho * wo

    @property
    def window(self) -> int:
        """Number of elements per window (the divisor of the average, padding included)."""
        return self.kernel[0] * self.kernel[1]

    @property
    def macs(self) -> int:
        """Window additions: one per input element of every window (kh * kw per output)."""
        return self.outputs * self.window

    @property
    def sum_bits(self) -> int:
        """Two's-complement width that holds any window sum."""
        return self.bits + int(np.ceil(np.log2(self.window))) if self.window > 1 else self.bits

    @property
    def shape(self) -> dict:
        return {"planes": self.planes, "h": self.h, "w": self.w, "kernel": list(self.kernel),
                "stride": list(self.stride), "padding": list(self.padding), "bits": self.bits}

    @property
    def label(self) -> str:
        """The shape in one word: ``PxHxW kKHxKW sSHxSW pPHxPW``."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return f"{self.planes}x{self.h}x{self.w} k{kh}x{kw} s{sh}x{sw} p{ph}x{pw}"

    def shape_only(self) -> "PoolOp":
        """This op without values and result."""
        return replace(self, x=None, result=None, meta={}, bits=None, frac_bits=0)

    # ---- golden execution -----------------------------------------------------------------
    def golden(self) -> np.ndarray:
        """Exact window sums recomputed from x (independent of ``result``)."""
        if self.x is None:
            raise JobError(f"op {self.name}: a shape-only op has no values to execute")
        return window_sums(self.x, self.kernel, self.stride, self.padding)

    # ---- on an array ------------------------------------------------------------------------
    def check(self, cfg: ArrayConfig) -> None:
        """Raise :class:`~hw.config.ConfigError` unless this op is one legal job of ``cfg``."""
        if self.bits is not None and self.bits > cfg.pool_bits:
            raise ConfigError(f"job {self.name}: {self.bits}-bit pool values, the array takes "
                              f"up to pool_bits={cfg.pool_bits}")
        if max(self.h, self.w) > cfg.pool_max_dim:
            raise ConfigError(f"job {self.name}: H x W = {self.h} x {self.w} above pool_max_dim="
                              f"{cfg.pool_max_dim}")
        if self.planes > cfg.pool_max_planes:
            raise ConfigError(f"job {self.name}: P={self.planes} above pool_max_planes="
                              f"{cfg.pool_max_planes}")
        if max(*self.kernel, *self.stride, *self.padding) > cfg.pool_max_kernel:
            raise ConfigError(f"job {self.name}: kernel {self.kernel} / stride {self.stride} / "
                              f"padding {self.padding} above pool_max_kernel="
                              f"{cfg.pool_max_kernel}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        if ph >= kh or pw >= kw:
            raise ConfigError(f"job {self.name}: padding {self.padding} must be below the "
                              f"kernel {self.kernel} on each axis (a window wholly in the "
                              f"padding is not a pool the unit streams); pad the input instead")
        if ceil_div(kh, sh) > cfg.pool_open_rows:
            raise ConfigError(f"job {self.name}: a {kh}-row window with stride {sh} keeps "
                              f"{ceil_div(kh, sh)} output rows open, the array has "
                              f"pool_open_rows={cfg.pool_open_rows}; build a config with "
                              f"--pool-open-rows {ceil_div(kh, sh)}")
        if kh > 1 and self.out_hw[1] > cfg.pool_row_depth:
            raise ConfigError(f"job {self.name}: output rows of {self.out_hw[1]} values, the "
                              f"array's open-row banks hold pool_row_depth="
                              f"{cfg.pool_row_depth}; build a config with --pool-row-depth "
                              f"{self.out_hw[1]} or split the job")

    def legal_jobs(self, cfg: ArrayConfig) -> Counter:
        """Shape-only legal sub-jobs with counts. Splits along planes (each plane is
        independent) and along H or W in bands of whole output rows/columns when the input is
        larger than pool_max_dim or (kh > 1) the output rows are wider than the open-row
        banks -- only on an axis without padding (a band would need asymmetric padding, which
        the job format cannot express: ConfigError)."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        if max(kh, kw, sh, sw, ph, pw) > cfg.pool_max_kernel:
            raise ConfigError(f"{self.name}: kernel {self.kernel} / stride {self.stride} / "
                              f"padding {self.padding} above pool_max_kernel="
                              f"{cfg.pool_max_kernel}; build a config with --pool-max-kernel "
                              f"{max(kh, kw, sh, sw, ph, pw)}")
        ho, wo = self.out_hw
        w_limit = cfg.pool_max_dim
        if kh > 1:      # output rows must fit an open-row bank
            w_limit = min(w_limit, (cfg.pool_row_depth - 1) * sw + kw)
        try:
            hb = ([(self.h, ho)] if self.h <= cfg.pool_max_dim
                  else _bands(ho, kh, sh, ph, cfg.pool_max_dim))
            fits_w = self.w <= cfg.pool_max_dim and (kh == 1 or wo <= cfg.pool_row_depth)
            wb = [(self.w, wo)] if fits_w else _bands(wo, kw, sw, pw, w_limit)
        except ConfigError as exc:
            raise ConfigError(f"{self.name} ({self.label}) cannot be split to fit this config: "
                              f"{exc}; raise pool_max_dim (--pool-max-dim) or pool_row_depth "
                              f"(--pool-row-depth)") from None
        out = Counter()
        for h, _ in hb:
            for w, _ in wb:
                pad = (ph if h == self.h else 0, pw if w == self.w else 0)
                for p in chunks(self.planes, cfg.pool_max_planes):
                    out[PoolOp(self.name, p, h, w, self.kernel, self.stride, pad)] += 1
        for job in out:
            job.check(cfg)
        return out

    def cycles(self, cfg: ArrayConfig, keep_w: bool = False) -> int:
        """Array cycles of this op as one job (:func:`hw.cost.cycles.pool_cycles`; a pool
        keeps no weights: ``keep_w`` must be False)."""
        from .cost.cycles import pool_cycles

        if keep_w:
            raise ValueError(f"op {self.name}: a pool job has no weights to keep")

        return pool_cycles(cfg, self.planes, self.h, self.w, self.kernel, self.stride,
                           self.padding)

    # ---- file format ------------------------------------------------------------------------
    def _payload(self) -> dict:
        return dict(x=self.x.astype(np.int32), frac_bits=self.frac_bits, bits=self.bits,
                    kernel=np.array(self.kernel), stride=np.array(self.stride),
                    padding=np.array(self.padding), result=self.result)

    @classmethod
    def from_npz(cls, name: str, z, need) -> "PoolOp":
        """The op stored in an opened ``.npz`` (``need(*keys)`` checks the keys are there)."""
        need("x", "frac_bits", "bits", "kernel", "stride", "padding", "result")
        return cls.from_values(name, z["x"], int(z["frac_bits"]), int(z["bits"]),
                               tuple(z["kernel"]), tuple(z["stride"]), tuple(z["padding"]),
                               z["result"])


def _bands(out_size: int, k: int, s: int, p: int, limit_in: int) -> list[tuple[int, int]]:
    """(input extent, output extent) of bands of whole outputs along one axis whose input
    extent is at most ``limit_in`` (padding must be 0). Windows may overlap (k > s)."""
    if p:
        raise ConfigError("cannot split a padded pool axis (bands would need asymmetric "
                          "padding)")
    per = (limit_in - k) // s + 1 if limit_in >= k else 0
    if per < 1:
        raise ConfigError(f"a {k}-wide window does not fit {limit_in} inputs")
    return [((o - 1) * s + k, o) for o in chunks(out_size, per)]


Op = MatmulOp | PoolOp
#: the class of each kind (file loading dispatches on it)
OP_CLASSES: dict[OpKind, type] = {OpKind.MATMUL: MatmulOp, OpKind.POOL: PoolOp}


def keeps_weights(cfg: ArrayConfig, before, job) -> bool:
    """Whether matmul ``job`` may keep the weights that ``before`` (the job run just before it
    on the same core, with no reset between; None: none) left in the weight banks: the config
    has ``keep_weights``, both are matmuls with operands, and their W are equal (same N, same
    K, same bits). Shape-only ops never keep: equal shapes are not equal weights."""
    if not cfg.keep_weights or before is None:
        return False
    if job.kind is not OpKind.MATMUL or before.kind is not OpKind.MATMUL:
        return False
    if job.w_bits is None or before.w_bits is None:
        return False
    return (job.n, job.k) == (before.n, before.k) and bool((job.w_bits == before.w_bits).all())


def keep_flags(cfg: ArrayConfig, jobs, core_of=lambda job: "core") -> list[bool]:
    """:func:`keeps_weights` of every job of ``jobs`` run back to back in this order with no
    reset, each against the job before it on its own core (``core_of(job)``: a name; with
    ``pool_port`` 1 the pools run on a core of their own and leave the matmul core's weights
    where they are)."""
    last: dict = {}
    out = []
    for job in jobs:
        core = core_of(job)
        out.append(keeps_weights(cfg, last.get(core), job))
        last[core] = job
    return out


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _read_arrays(path: Path) -> dict:
    """Every array of an ``.npz`` file, read into memory (a damaged archive: JobError)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise JobError("a single array, not an .npz archive")
            return {key: z[key] for key in z.files}
    except JobError as exc:
        raise JobError(f"{path}: not a readable .npz job file ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - zip/npy decoding of a damaged file, any kind
        raise JobError(f"{path}: not a readable .npz job file ({type(exc).__name__}: "
                       f"{_one_line(exc)})") from None


def load_op(path, verify: bool = True) -> Op:
    """Read and validate an op file; a file whose arrays disagree with its header raises
    JobError. With `verify`, the stored result must also equal the result recomputed from the
    operands. Every problem of the file is one JobError line that starts with the path."""
    path = Path(path)
    if not path.is_file():
        raise JobError(f"job file {path} does not exist")
    z = _read_arrays(path)

    def need(*keys):
        missing = [k for k in keys if k not in z]
        if missing:
            raise JobError(f"missing fields {missing}; re-export it with "
                           "`python -m model export`")

    try:
        need("format_version", "kind", "name")
        version = int(z["format_version"])
        if version != FORMAT_VERSION:
            raise JobError(f"format_version {version}, this code reads {FORMAT_VERSION}")
        kind, name = str(z["kind"]), str(z["name"])
        try:
            cls = OP_CLASSES[OpKind(kind)]
        except ValueError:
            raise JobError(f"unknown job kind {kind!r} (expected one of "
                           f"{[k.value for k in OpKind]})") from None
        op = cls.from_npz(name, z, need)
        if verify and not np.array_equal(op.result, op.golden()):
            bad = int((op.result != op.golden()).sum())
            raise JobError(f"{bad} stored result values disagree with the result recomputed "
                           "from the inputs; the file is corrupt, re-export it")
        return op
    except JobError as exc:
        raise JobError(f"{path}: {_one_line(exc)}") from None
    except (TypeError, ValueError, OverflowError, IndexError) as exc:
        # a field of the wrong type or shape (e.g. an array where a number belongs)
        raise JobError(f"{path}: malformed field values ({type(exc).__name__}: "
                       f"{_one_line(exc)}); re-export it with `python -m model export`") from None
