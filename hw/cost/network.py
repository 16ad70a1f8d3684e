"""Network-level cost model: a whole BinaryViT on one array config.

Where every number comes from:

- The *op list* (every binary matmul and pool of one frame, with its shape) is traced from the
  model package: :func:`trace_network` builds ``model.BinaryViT`` for the network's config and
  runs it once on a zeros batch of 1 under ``model.trace.recording()``. Nothing is hand-typed.
  Weight layers stack the image's tokens along M (batch 1: M = tokens); attention products are
  one job per image per head (Q.K^T xnor: M = tokens, N = keys, K = head_dim; A.V and-mode:
  M = tokens, N = head_dim, K = keys); patch merges are im2col matmuls; SR pools, the four
  branch pools, the FFN-output channel-group pool, the merge shortcut and GAP are pool jobs.
- *Cycles* of every job come from :mod:`hw.cost.cycles` (the formula proven equal to the RTL); this
  module never re-derives them.
- *Non-array work* (norm affines, RPReLU, LayerScale, RSign thresholds, softmax + threshold,
  residual adds, pool rescaling, partial-sum adds of K splits, the FP stem and head) is counted
  in elements / MACs by hooks on the same forward pass (:class:`ElementwiseWork`). Assumption:
  it runs on a per-element post-processing unit beside the array (the stem conv and the head
  on the host CPU), overlapped with the array, so it is *not* in the array cycles.

Jobs above the array's limits are split into legal sub-jobs (:func:`split_matmul`,
:func:`split_pool`); the cycles of the sub-jobs add up. Matmuls split greedily along M
(chunks of max_m rows, the remainder last), N (chunks of max_n) and K (chunks of max_k; the
integer partial results of the K chunks add exactly and the adds are counted as non-array work).
Pool jobs split along planes (each plane is independent) and, when one plane is still too big,
along H or W in bands of whole output rows/columns -- only on an axis without padding (with
padding a band would need asymmetric padding, which the job format cannot express: error).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from ..config import ArrayConfig, ConfigError, ceil_div
from ..paths import DIGITS_CHECKPOINT, REPO
from .cycles import matmul_cycles, pool_cycles, pool_out_shape

NETWORKS = ("digits-tiny", "binaryvit-s")


class NetworkError(ValueError):
    """Unknown network name, or a network that cannot run on a config; says what to do."""


# ---- the op list ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatmulOp:
    """One binary matmul of the network: M x K activations times N x K weights (or, for the
    attention products, a second activation operand)."""

    name: str
    mode: str        # "xnor" | "and"
    m: int
    n: int
    k: int
    group: str       # "linear" | "merge" | "attention"

    kind = "matmul"

    @property
    def macs(self) -> int:
        """Useful binary MACs: M * N * K."""
        return self.m * self.n * self.k

    @property
    def weight_bits(self) -> int:
        """Stored binary weights (N x K) of a weight layer; 0 for the attention products,
        whose both operands are activations."""
        return self.n * self.k if self.group != "attention" else 0

    @property
    def shape(self) -> str:
        return f"{self.m}x{self.n}x{self.k}"


@dataclass(frozen=True)
class PoolOp:
    """One pooling: integer window sums over ``planes`` planes of H x W fixed-point values."""

    name: str
    planes: int
    h: int
    w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    group: str = "pool"
    mode: str = "pool"

    kind = "pool"

    @property
    def out_hw(self) -> tuple[int, int]:
        return pool_out_shape(self.h, self.w, self.kernel, self.stride, self.padding)

    @property
    def outputs(self) -> int:
        ho, wo = self.out_hw
        return self.planes * ho * wo

    @property
    def macs(self) -> int:
        """Window additions: one per input element of every window (kh * kw per output)."""
        return self.outputs * self.kernel[0] * self.kernel[1]

    weight_bits = 0

    @property
    def shape(self) -> str:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return f"{self.planes}x{self.h}x{self.w} k{kh}x{kw} s{sh}x{sw} p{ph}x{pw}"


@dataclass(frozen=True)
class ElementwiseWork:
    """Non-array work of one category: element count (or FP MACs) and where it is assumed to
    run."""

    category: str
    count: int
    unit: str        # "elements" | "FP MACs"
    runs_on: str
    note: str = ""


@dataclass
class Network:
    """A traced network: its model config, array ops in execution order, non-array work."""

    name: str
    config: object                   # model.BinaryViTConfig
    ops: list
    elementwise: list = field(default_factory=list)
    source: str = ""

    @property
    def matmuls(self) -> list[MatmulOp]:
        return [op for op in self.ops if op.kind == "matmul"]

    @property
    def pools(self) -> list[PoolOp]:
        return [op for op in self.ops if op.kind == "pool"]

    def macs(self, group: str | None = None) -> int:
        """Binary MACs of the matmuls (of one group: linear, merge, attention)."""
        return sum(op.macs for op in self.matmuls if group is None or op.group == group)

    @property
    def weight_bits(self) -> int:
        return sum(op.weight_bits for op in self.matmuls)


def _matmul_group(name: str, mode: str) -> str:
    if mode == "and" or name.endswith(".scores") or name.endswith(".context"):
        return "attention"
    return "merge" if ".merge." in name else "linear"


def network_config(name: str):
    """The model config of a network name: ``digits-tiny`` (the committed checkpoint's
    config.json when present, else ``model.tiny_digits_config()``) or ``binaryvit-s``."""
    from model import BinaryViTConfig, tiny_digits_config

    key = str(name).strip().lower()
    if key == "digits-tiny":
        path = DIGITS_CHECKPOINT / "config.json"
        if path.is_file():
            return BinaryViTConfig.load(path), f"{path.relative_to(REPO)}"
        return tiny_digits_config(), "model.tiny_digits_config()"
    if key == "binaryvit-s":
        return BinaryViTConfig(), "model.BinaryViTConfig() (BinaryViT-S, 224 px)"
    raise NetworkError(f"unknown network {name!r}; valid networks: {', '.join(NETWORKS)}")


@functools.lru_cache(maxsize=8)
def load_network(name: str) -> Network:
    """Trace the named network (cached per process). See :func:`trace_network`."""
    cfg, source = network_config(name)
    return trace_network(cfg, name=str(name).strip().lower(), source=source)


def trace_network(cfg, name: str = "", source: str = "") -> Network:
    """Build ``model.BinaryViT(cfg)``, run one zeros image through it under
    ``model.trace.recording()`` and return its ops and non-array work.

    The weights are random (seed 0): shapes and element counts do not depend on them.
    """
    import torch

    from model import BinaryViT
    from model.trace import TracedMatmul, recording

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = BinaryViT(cfg).eval()
    counter = _ElementCounter(model)
    images = torch.zeros(1, cfg.in_channels, cfg.image_size, cfg.image_size)
    with torch.no_grad(), recording() as trace, counter:
        model(images)
    ops = []
    for t in trace.ops:
        if isinstance(t, TracedMatmul):
            (m, k), (n, k2) = t.a_bits.shape, t.w_bits.shape
            assert k == k2, t.name
            ops.append(MatmulOp(t.name, t.mode, int(m), int(n), int(k),
                                _matmul_group(t.name, t.mode)))
        else:
            p, h, w = t.x.shape
            ops.append(PoolOp(t.name, int(p), int(h), int(w), t.kernel, t.stride, t.padding))
    net = Network(name or cfg.name, cfg, ops, source=source)
    net.elementwise = counter.work(net)
    return net


class _ElementCounter:
    """Counts the non-array work of a forward pass with module hooks (norms, RPReLU,
    LayerScale, the FP stem conv and head) and a torch function mode (tensor adds outside
    those modules: residual and shortcut adds, position embeddings, Q/K/V sign thresholds)."""

    def __init__(self, model):
        from torch import nn

        from model.layers import (BinaryLinear, BinaryMergeConv, LayerScale, RPReLU,
                                  TokenBatchNorm)

        self.model = model
        self.counts = Counter()
        self.depth = 0
        self.handles = []
        cats = {TokenBatchNorm: "norm", RPReLU: "rprelu", LayerScale: "layerscale"}
        leaves = (TokenBatchNorm, RPReLU, LayerScale, BinaryLinear, BinaryMergeConv, nn.Conv2d,
                  nn.Linear)
        for mod in model.modules():
            if not isinstance(mod, leaves):
                continue
            cat = next((c for t, c in cats.items() if isinstance(mod, t)), None)
            if isinstance(mod, nn.Conv2d):
                cat = "stem"
            elif isinstance(mod, nn.Linear):
                cat = "head"
            self.handles.append(mod.register_forward_pre_hook(self._enter))
            self.handles.append(mod.register_forward_hook(self._leave(cat)))

    def _enter(self, mod, args):
        self.depth += 1

    def _leave(self, cat):
        def hook(mod, args, out):
            self.depth -= 1
            if cat == "stem":   # FP MACs: outputs x (in_channels * kh * kw)
                self.counts[cat] += out.numel() * mod.in_channels * mod.kernel_size[0] * \
                    mod.kernel_size[1]
            elif cat == "head":
                self.counts[cat] += out.numel() * mod.in_features
            elif cat is not None:
                self.counts[cat] += out.numel()
        return hook

    def __enter__(self):
        import torch
        from torch.overrides import TorchFunctionMode

        counter = self
        adds = {torch.Tensor.__add__, torch.Tensor.__radd__, torch.add, torch.Tensor.add}

        class _Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                if func in adds and counter.depth == 0 and isinstance(out, torch.Tensor):
                    counter.counts["adds"] += out.numel()
                return out

        self.mode = _Mode()
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        self.mode.__exit__(*exc)
        for h in self.handles:
            h.remove()

    def work(self, net: Network) -> list[ElementwiseWork]:
        pe, cpu = "per-element unit", "host CPU"
        sign = sum(op.m * op.k for op in net.matmuls if op.group != "attention")
        scores = [op for op in net.matmuls if op.name.endswith(".scores")]
        c = self.counts
        return [
            ElementwiseWork("norm affine (BatchNorm, folded with alpha)", c["norm"], "elements",
                            pe, "per-channel a*x+b; the binary layers' alpha folds into it"),
            ElementwiseWork("RPReLU", c["rprelu"], "elements", pe),
            ElementwiseWork("LayerScale", c["layerscale"], "elements", pe),
            ElementwiseWork("RSign thresholds of binary-layer inputs", sign, "elements", pe,
                            "sign(x + move) of every weight-layer input bit (M*K)"),
            ElementwiseWork("softmax (exp, sum, divide)", sum(op.m * op.n for op in scores),
                            "elements", pe, "over the Q.K^T scores"),
            ElementwiseWork("probability threshold (A = p >= clip)",
                            sum(op.m * op.n for op in scores), "elements", pe),
            ElementwiseWork("adds outside layers (residuals, shortcuts, pos-embed, Q/K/V "
                            "thresholds)", c["adds"], "elements", pe,
                            "counted by a torch function mode on the same forward pass"),
            ElementwiseWork("pool rescale (window sum -> average)",
                            sum(op.outputs for op in net.pools), "elements", pe),
            ElementwiseWork("FP stem conv", c["stem"], "FP MACs", cpu),
            ElementwiseWork("FP head linear", c["head"], "FP MACs", cpu),
        ]


# ---- splitting into legal jobs -------------------------------------------------------------------
def chunks(total: int, limit: int) -> list[int]:
    """Greedy chunks of at most ``limit`` summing to ``total`` (full chunks, remainder last)."""
    q, r = divmod(total, limit)
    return [limit] * q + ([r] if r else [])


def split_matmul(cfg: ArrayConfig, m: int, n: int, k: int) -> Counter:
    """Legal sub-job shapes {(m, n, k): count} of an M x N x K matmul on ``cfg``."""
    out = Counter()
    for mi in chunks(m, cfg.max_m):
        for ni in chunks(n, cfg.max_n):
            for ki in chunks(k, cfg.max_k):
                out[(mi, ni, ki)] += 1
    for (mi, ni, ki) in out:
        _check(cfg, SimpleNamespace(kind="matmul", name="split", m=mi, n=ni, k=ki))
    return out


def _band_split(size, out_size, k, s, p, limit_in) -> list[tuple[int, int]]:
    """(input extent, output extent) of bands of whole outputs along one axis whose input
    extent is at most ``limit_in`` (padding must be 0). Windows may overlap (k > s)."""
    if p:
        raise NetworkError("cannot split a padded pool axis (bands would need asymmetric "
                           "padding)")
    per = (limit_in - k) // s + 1 if limit_in >= k else 0
    if per < 1:
        raise NetworkError(f"a {k}-wide window does not fit {limit_in} inputs")
    bands = []
    for o in chunks(out_size, per):
        bands.append(((o - 1) * s + k, o))
    return bands


def split_pool(cfg: ArrayConfig, op: PoolOp) -> Counter:
    """Legal sub-job shapes {(planes, h, w, kernel, stride, padding): count} of a pool op."""
    (kh, kw), (sh, sw), (ph, pw) = op.kernel, op.stride, op.padding
    if max(kh, kw, sh, sw, ph, pw) > cfg.pool_max_kernel:
        raise NetworkError(f"{op.name}: kernel {op.kernel} / stride {op.stride} / padding "
                           f"{op.padding} above pool_max_kernel={cfg.pool_max_kernel}; build a "
                           f"config with --pool-max-kernel {max(kh, kw, sh, sw, ph, pw)}")
    ho, wo = op.out_hw
    try:
        hb = ([(op.h, ho)] if op.h <= cfg.pool_max_dim
              else _band_split(op.h, ho, kh, sh, ph, cfg.pool_max_dim))
        wb = ([(op.w, wo)] if op.w <= cfg.pool_max_dim
              else _band_split(op.w, wo, kw, sw, pw, cfg.pool_max_dim))
        words = ceil_div(wb[0][0], cfg.pool_lanes)
        if hb[0][0] * words > cfg.pool_depth:   # one plane too big: bands of rows
            limit = cfg.pool_depth // words
            hb = [sub for h, o in hb for sub in _band_split(h, o, kh, sh, ph, limit)]
    except NetworkError as exc:
        raise NetworkError(f"{op.name} ({op.shape}) cannot be split to fit this config: {exc}; "
                           f"raise pool_max_dim (--pool-max-dim) or pool_depth (--pool-depth)"
                           ) from None
    out = Counter()
    for h, _ in hb:
        for w, _ in wb:
            per_plane = h * ceil_div(w, cfg.pool_lanes)
            cap = min(cfg.pool_max_planes, cfg.pool_depth // per_plane)
            pad = (ph if h == op.h else 0, pw if w == op.w else 0)
            for p in chunks(op.planes, cap):
                out[(p, h, w, op.kernel, op.stride, pad)] += 1
    for (p, h, w, ker, st, pad) in out:
        _check(cfg, SimpleNamespace(kind="pool", name=op.name, x=SimpleNamespace(shape=(p, h, w)),
                                    bits=cfg.pool_bits, kernel=ker, stride=st, padding=pad))
    return out


def _check(cfg: ArrayConfig, job) -> None:
    """The array's own legality check (hw.rtl.formats.check_job) on a shape-only job."""
    from ..rtl.formats import check_job

    check_job(cfg, job)


def op_jobs(cfg: ArrayConfig, op) -> Counter:
    """Legal sub-jobs of an op (a Counter of shapes)."""
    return split_matmul(cfg, op.m, op.n, op.k) if op.kind == "matmul" else split_pool(cfg, op)


def jobs_cycles(cfg: ArrayConfig, kind: str, jobs: Counter) -> int:
    """Sum of :mod:`hw.cost.cycles` over sub-jobs."""
    if kind == "matmul":
        return sum(c * matmul_cycles(cfg, *s) for s, c in jobs.items())
    return sum(c * pool_cycles(cfg, *s) for s, c in jobs.items())


# ---- the cost of a network on a config -----------------------------------------------------------
@dataclass(frozen=True)
class OpCost:
    """Cost of one op on one array config."""

    op: object
    jobs: int              # legal sub-jobs
    cycles: int            # hw.cost.cycles, summed over sub-jobs
    weight_traffic_bits: int   # weight bits streamed in (N*K per sub-job; re-loads included)
    compute_s: float
    memory_s: float        # weight_traffic / bandwidth

    @property
    def bound(self) -> str:
        return "memory" if self.memory_s > self.compute_s else "compute"


def bram_bits_per_block(family: str) -> int:
    """Data bits of one device block-RAM unit of a family (the largest mode of
    :data:`hw.cost.resources.BRAM_SHAPES`, per unit of cost)."""
    from .resources import BRAM_SHAPES

    return int(max(d * w / cost for d, w, cost in BRAM_SHAPES[family]))


def network_cost(net: Network, cfg: ArrayConfig, bandwidth_gbps: float = 1.0) -> dict:
    """Per-op and total cost of ``net`` on ``cfg`` at ``cfg.clock_mhz``.

    ``bandwidth_gbps``: off-chip bandwidth in GB/s (1e9 bytes/s) for the weight traffic; an op
    is memory-bound when streaming its weights takes longer than its array cycles.
    Returns a JSON-able dict (ops, totals, memory, elementwise).
    """
    if not bandwidth_gbps > 0:
        raise NetworkError(f"bandwidth must be > 0 GB/s, got {bandwidth_gbps}")
    f_hz = cfg.clock_mhz * 1e6
    peak = cfg.rows * cfg.cols * cfg.simd
    costs = []
    for op in net.ops:
        jobs = op_jobs(cfg, op)
        cyc = jobs_cycles(cfg, op.kind, jobs)
        traffic = (sum(c * s[1] * s[2] for s, c in jobs.items())
                   if op.kind == "matmul" and op.group != "attention" else 0)
        costs.append(OpCost(op, sum(jobs.values()), cyc, traffic, cyc / f_hz,
                            traffic / 8 / (bandwidth_gbps * 1e9)))
    total = sum(c.cycles for c in costs)
    mm_cycles = sum(c.cycles for c in costs if c.op.kind == "matmul")
    macs = net.macs()
    rows = []
    for c in costs:
        op = c.op
        rows.append({
            "name": op.name, "kind": op.kind, "group": op.group, "mode": op.mode,
            "shape": op.shape, "jobs": c.jobs, "cycles": c.cycles, "macs": op.macs,
            "utilisation": (op.macs / (peak * c.cycles)) if op.kind == "matmul" else None,
            "weight_bits": op.weight_bits, "weight_traffic_bits": c.weight_traffic_bits,
            "compute_us": c.compute_s * 1e6, "memory_us": c.memory_s * 1e6, "bound": c.bound})
    k_split_adds = sum(op.m * op.n * (len(chunks(op.k, cfg.max_k)) - 1) for op in net.matmuls)
    latency_s = total / f_hz
    roof_s = sum(max(c.compute_s, c.memory_s) for c in costs)
    traffic = sum(c.weight_traffic_bits for c in costs)
    return {
        "network": net.name, "network_source": net.source, "config": cfg.to_dict(),
        "bandwidth_gbps": bandwidth_gbps,
        "ops": rows,
        "totals": {
            "ops": len(net.ops), "jobs": sum(c.jobs for c in costs),
            "cycles": total, "matmul_cycles": mm_cycles, "pool_cycles": total - mm_cycles,
            "binary_macs": macs, "binary_macs_linear": net.macs("linear"),
            "binary_macs_merge": net.macs("merge"), "binary_macs_attention": net.macs("attention"),
            "pool_window_adds": sum(op.macs for op in net.pools),
            "utilisation": macs / (peak * total),
            "utilisation_matmul_cycles": macs / (peak * mm_cycles) if mm_cycles else None,
            "latency_ms": latency_s * 1e3, "frames_per_s": 1.0 / latency_s,
            "latency_ms_with_bandwidth": roof_s * 1e3, "frames_per_s_with_bandwidth": 1.0 / roof_s,
            "memory_bound_ops": sum(c.bound == "memory" for c in costs),
            "weight_traffic_bits_per_frame": traffic,
            "weight_traffic_mb_per_frame": traffic / 8 / 1e6,
            "k_split_partial_adds": k_split_adds,
        },
        "memory": memory_needs(net, cfg),
        "elementwise": [vars(w) for w in net.elementwise],
    }


def memory_needs(net: Network, cfg: ArrayConfig) -> dict:
    """On-chip storage the network needs (bits): all binary weights, and the largest working
    set of one op (A bits + W bits + the M x N results at the array's lane width); and the
    array's own job buffers (max_m x max_k + max_n x max_k bits + the pool memory)."""
    work = 0
    for op in net.ops:
        if op.kind == "matmul":
            work = max(work, op.m * op.k + op.n * op.k + op.m * op.n * cfg.lane_width)
        else:
            ho, wo = op.out_hw
            work = max(work, op.planes * (op.h * op.w + ho * wo) * cfg.pool_bits)
    return {"weight_bits": net.weight_bits, "largest_op_working_set_bits": work,
            "array_buffer_bits": (cfg.rows * cfg.a_bank_depth + cfg.cols * cfg.w_bank_depth
                                  + cfg.pool_depth) * cfg.simd}


def device_memory(mem: dict, device, array_bram_blocks: float | None) -> dict:
    """Compare :func:`memory_needs` with ``device``'s block RAM."""
    per = bram_bits_per_block(device.family)
    total = device.bram * per
    used = (array_bram_blocks or 0) * per
    free = total - used
    return {"device_bram_bits": total, "bram_bits_per_block": per,
            "array_bram_blocks": array_bram_blocks, "free_bram_bits": free,
            "weights_fit_on_chip": mem["weight_bits"] <= free,
            "weights_over_free_bram_percent": 100.0 * mem["weight_bits"] / free if free > 0
            else None}


def require_fit(net: Network, cfg: ArrayConfig) -> None:
    """Raise NetworkError if some op cannot be split into legal jobs of ``cfg``."""
    for op in net.ops:
        try:
            op_jobs(cfg, op)
        except ConfigError as exc:
            raise NetworkError(str(exc)) from None
