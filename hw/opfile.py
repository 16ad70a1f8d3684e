"""Jobs: the plain data objects that flow from the model export to the RTL, the testbenches
and the cost model (DESIGN.md section 6).

A *matmul job* is one binary matrix product: activation bits A (M x K), weight bits W (N x K),
a mode and the exact integer result (M x N).

- ``xnor``: both operands are +-1 vectors, bit 1 = +1, bit 0 = -1.
  result[m, n] = sum_k a*w = 2 * popcount(XNOR(a, w)[:K]) - K.
- ``and``: A is a 0/1 mask (bit 1 = 1), W is +-1 (bit 1 = +1, bit 0 = -1). This is A.V of the
  binary attention. result[m, n] = sum_k a*w = 2 * popcount(a AND w) - popcount(a).

A *pool job* is one set of integer window sums over signed fixed-point planes: input X of shape
(P, H, W) holding integers q (the real value is q * 2**-frac_bits, every q fits in ``bits``-bit
two's complement), a window (kh, kw), a stride and zero padding. result[p, i, j] is the sum of the
window at output (i, j), padding counted as zeros. The average pooling of the float model is
result / (kh * kw) * 2**-frac_bits (count_include_pad=True); that division is not part of the job.

On disk a job is one ``.npz``; bits are packed with ``numpy.packbits(..., bitorder="little")``
along K, so element k of a row is bit (k % 8) of byte (k // 8); padding bits past K are zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MATMUL_MODES = ("xnor", "and")
FORMAT_VERSION = 1


class JobError(ValueError):
    """A job (or a job file) is inconsistent; the message says what and how to fix it."""


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Pack a (rows, K) array of 0/1 into (rows, ceil(K/8)) uint8, LSB first."""
    bits = np.asarray(bits)
    if bits.ndim != 2:
        raise JobError(f"pack_bits expects a 2-D 0/1 array, got shape {bits.shape}")
    if bits.size and not np.isin(bits, (0, 1)).all():
        raise JobError("pack_bits expects only 0 and 1")
    return np.packbits(bits.astype(np.uint8), axis=1, bitorder="little")


def unpack_bits(packed: np.ndarray, k: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: (rows, ceil(K/8)) uint8 -> (rows, K) uint8 of 0/1."""
    packed = np.asarray(packed, dtype=np.uint8)
    if packed.ndim != 2 or packed.shape[1] != (k + 7) // 8:
        raise JobError(
            f"packed bits have shape {packed.shape}, expected (rows, {(k + 7) // 8}) for K={k}")
    bits = np.unpackbits(packed, axis=1, bitorder="little")
    if bits[:, k:].any():
        raise JobError(f"packed bits have ones past K={k}; padding bits must be zero")
    return bits[:, :k]


def matmul_golden(mode: str, a_bits: np.ndarray, w_bits: np.ndarray) -> np.ndarray:
    """Exact integer result (M x N, int64) of a binary matmul, from the bits alone."""
    a = np.asarray(a_bits, dtype=np.int64)
    w = np.asarray(w_bits, dtype=np.int64)
    w_pm = 2 * w - 1
    if mode == "xnor":
        return (2 * a - 1) @ w_pm.T
    if mode == "and":
        return a @ w_pm.T
    raise JobError(f"unknown matmul mode {mode!r}; use one of {MATMUL_MODES}")


def pool_out_shape(h: int, w: int, kernel, stride, padding) -> tuple[int, int]:
    """(Ho, Wo) of a window of `kernel` moved by `stride` over (h, w) zero-padded by `padding`."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


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


def write_npz(path, arrays: dict) -> None:
    """Write arrays as an uncompressed .npz with fixed zip timestamps, so the same arrays give
    the same bytes (numpy.savez stamps the current time into every entry)."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def as_pair(value, what: str = "value") -> tuple[int, int]:
    """One int or a pair of ints -> (int, int); JobError otherwise."""
    vals = tuple(int(v) for v in np.atleast_1d(value))
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2:
        raise JobError(f"{what} must be one int or a pair, got {value!r}")
    return vals


@dataclass(frozen=True)
class MatmulJob:
    """One binary matmul: A bits (M x K), W bits (N x K), mode, exact result (M x N)."""

    name: str
    mode: str
    a_bits: np.ndarray
    w_bits: np.ndarray
    result: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.mode not in MATMUL_MODES:
            raise JobError(f"job {self.name}: unknown mode {self.mode!r}; use one of {MATMUL_MODES}")
        a, w = np.asarray(self.a_bits), np.asarray(self.w_bits)
        if a.ndim != 2 or w.ndim != 2:
            raise JobError(f"job {self.name}: a_bits and w_bits must be 2-D, got {a.shape}, {w.shape}")
        if a.shape[1] != w.shape[1]:
            raise JobError(f"job {self.name}: K disagrees: a_bits is {a.shape}, w_bits is {w.shape}")
        if min(a.shape[0], w.shape[0], a.shape[1]) < 1:
            raise JobError(f"job {self.name}: M, N and K must all be >= 1, got "
                           f"M={a.shape[0]}, N={w.shape[0]}, K={a.shape[1]}")
        for what, arr in (("a_bits", a), ("w_bits", w)):
            if not np.isin(arr, (0, 1)).all():
                raise JobError(f"job {self.name}: {what} must hold only 0 and 1")
        object.__setattr__(self, "a_bits", a.astype(np.uint8))
        object.__setattr__(self, "w_bits", w.astype(np.uint8))
        if self.result is not None:
            r = np.asarray(self.result)
            if r.shape != (self.m, self.n):
                raise JobError(f"job {self.name}: result has shape {r.shape}, expected "
                               f"(M, N) = ({self.m}, {self.n})")
            object.__setattr__(self, "result", r.astype(np.int64))

    kind = "matmul"

    @property
    def m(self) -> int:
        return self.a_bits.shape[0]

    @property
    def n(self) -> int:
        return self.w_bits.shape[0]

    @property
    def k(self) -> int:
        return self.a_bits.shape[1]

    @property
    def shape(self) -> dict:
        return {"m": self.m, "n": self.n, "k": self.k}

    def golden(self) -> np.ndarray:
        """Exact result recomputed from the bits (independent of ``result``)."""
        return matmul_golden(self.mode, self.a_bits, self.w_bits)

    def with_result(self) -> "MatmulJob":
        """This job with ``result`` set to :meth:`golden`."""
        return MatmulJob(self.name, self.mode, self.a_bits, self.w_bits, self.golden(), self.meta)

    def save(self, path) -> None:
        """Write the job as a packed ``.npz``."""
        if self.result is None:
            raise JobError(f"job {self.name}: no result to save; call with_result() first")
        write_npz(path, dict(format_version=FORMAT_VERSION, kind="matmul", name=self.name,
                             mode=self.mode, m=self.m, n=self.n, k=self.k,
                             a_bits=pack_bits(self.a_bits), w_bits=pack_bits(self.w_bits),
                             result=self.result.astype(np.int32)))


@dataclass(frozen=True)
class PoolJob:
    """Integer window sums over signed fixed-point planes X (P, H, W)."""

    name: str
    x: np.ndarray
    frac_bits: int
    bits: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    result: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    kind = "pool"

    def __post_init__(self):
        x = np.asarray(self.x)
        if x.ndim != 3 or min(x.shape) < 1:
            raise JobError(f"job {self.name}: x must be (P, H, W) with every size >= 1, got {x.shape}")
        if not np.issubdtype(x.dtype, np.integer):
            raise JobError(f"job {self.name}: x must hold integers (fixed-point), got {x.dtype}")
        if not 2 <= int(self.bits) <= 32:
            raise JobError(f"job {self.name}: bits must be in 2..32, got {self.bits}")
        lo, hi = -(1 << (int(self.bits) - 1)), (1 << (int(self.bits) - 1)) - 1
        if x.size and (x.min() < lo or x.max() > hi):
            raise JobError(f"job {self.name}: x has values outside {self.bits}-bit two's complement "
                           f"[{lo}, {hi}]")
        kernel, stride = as_pair(self.kernel, "kernel"), as_pair(self.stride, "stride")
        padding = as_pair(self.padding, "padding")
        if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
            raise JobError(f"job {self.name}: kernel/stride must be >= 1 and padding >= 0, got "
                           f"{kernel}, {stride}, {padding}")
        if kernel[0] > x.shape[1] + 2 * padding[0] or kernel[1] > x.shape[2] + 2 * padding[1]:
            raise JobError(f"job {self.name}: window {kernel} larger than padded input {x.shape[1:]}")
        object.__setattr__(self, "x", x.astype(np.int64))
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "padding", padding)
        object.__setattr__(self, "frac_bits", int(self.frac_bits))
        object.__setattr__(self, "bits", int(self.bits))
        if self.result is not None:
            r = np.asarray(self.result)
            if r.shape != self.out_shape:
                raise JobError(f"job {self.name}: result has shape {r.shape}, expected "
                               f"{self.out_shape} from x {self.x.shape}, kernel {kernel}, "
                               f"stride {stride}, padding {padding}")
            object.__setattr__(self, "result", r.astype(np.int64))

    @property
    def out_shape(self) -> tuple[int, int, int]:
        p, h, w = self.x.shape
        return (p, *pool_out_shape(h, w, self.kernel, self.stride, self.padding))

    @property
    def window(self) -> int:
        """Number of elements per window (the divisor of the average, padding included)."""
        return self.kernel[0] * self.kernel[1]

    @property
    def sum_bits(self) -> int:
        """Two's-complement width that holds any window sum."""
        return self.bits + int(np.ceil(np.log2(self.window))) if self.window > 1 else self.bits

    @property
    def shape(self) -> dict:
        p, h, w = self.x.shape
        return {"planes": p, "h": h, "w": w, "kernel": list(self.kernel),
                "stride": list(self.stride), "padding": list(self.padding), "bits": self.bits}

    def golden(self) -> np.ndarray:
        """Exact window sums recomputed from x (independent of ``result``)."""
        return window_sums(self.x, self.kernel, self.stride, self.padding)

    def with_result(self) -> "PoolJob":
        """This job with ``result`` set to :meth:`golden`."""
        return PoolJob(self.name, self.x, self.frac_bits, self.bits, self.kernel, self.stride,
                       self.padding, self.golden(), self.meta)

    def save(self, path) -> None:
        """Write the job as an ``.npz``."""
        if self.result is None:
            raise JobError(f"job {self.name}: no result to save; call with_result() first")
        write_npz(path, dict(format_version=FORMAT_VERSION, kind="pool", name=self.name,
                             x=self.x.astype(np.int32), frac_bits=self.frac_bits, bits=self.bits,
                             kernel=np.array(self.kernel), stride=np.array(self.stride),
                             padding=np.array(self.padding), result=self.result))


Job = MatmulJob | PoolJob


def load_job(path, verify: bool = True) -> Job:
    """Read and validate a job file; a file whose arrays disagree with its header raises JobError.
    With `verify`, the stored result must also equal the result recomputed from the inputs."""
    path = Path(path)
    if not path.is_file():
        raise JobError(f"job file {path} does not exist")
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise JobError(f"{path}: not a readable .npz job file ({exc})") from exc
    with z:
        files = set(z.files)

        def need(*keys):
            missing = [k for k in keys if k not in files]
            if missing:
                raise JobError(f"{path}: missing fields {missing}; re-export it with "
                               "`python -m model export`")

        need("format_version", "kind", "name")
        if int(z["format_version"]) != FORMAT_VERSION:
            raise JobError(f"{path}: format_version {int(z['format_version'])}, this code reads "
                           f"{FORMAT_VERSION}")
        kind, name = str(z["kind"]), str(z["name"])
        try:
            if kind == "matmul":
                need("mode", "m", "n", "k", "a_bits", "w_bits", "result")
                m, n, k = int(z["m"]), int(z["n"]), int(z["k"])
                a, w = unpack_bits(z["a_bits"], k), unpack_bits(z["w_bits"], k)
                if a.shape[0] != m or w.shape[0] != n:
                    raise JobError(f"header says M={m}, N={n} but a_bits has {a.shape[0]} rows "
                                   f"and w_bits {w.shape[0]}")
                job = MatmulJob(name, str(z["mode"]), a, w, z["result"])
            elif kind == "pool":
                need("x", "frac_bits", "bits", "kernel", "stride", "padding", "result")
                job = PoolJob(name, z["x"], int(z["frac_bits"]), int(z["bits"]),
                              tuple(z["kernel"]), tuple(z["stride"]), tuple(z["padding"]),
                              z["result"])
            else:
                raise JobError(f"unknown job kind {kind!r} (expected 'matmul' or 'pool')")
            if verify and not np.array_equal(job.result, job.golden()):
                bad = int((job.result != job.golden()).sum())
                raise JobError(f"{bad} stored result values disagree with the result recomputed "
                               "from the inputs; the file is corrupt, re-export it")
            return job
        except JobError as exc:
            raise JobError(f"{path}: {exc}") from None


MANIFEST_NAME = "manifest.json"


def read_manifest(directory) -> list[dict]:
    """The op entries of a golden directory's ``manifest.json`` (each with an absolute ``path``)."""
    import json

    directory = Path(directory)
    mpath = directory / MANIFEST_NAME
    if not mpath.is_file():
        raise JobError(f"{mpath} not found; write a golden directory with "
                       "`python -m model export --checkpoint CKPT --images N --out DIR`")
    manifest = json.loads(mpath.read_text())
    ops = manifest.get("ops")
    if not isinstance(ops, list):
        raise JobError(f"{mpath}: no 'ops' list")
    for op in ops:
        for key in ("name", "kind", "file"):
            if key not in op:
                raise JobError(f"{mpath}: op entry {op!r} has no {key!r}")
        op["path"] = str(directory / op["file"])
    return ops
