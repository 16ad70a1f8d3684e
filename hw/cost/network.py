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
- *Off-chip traffic* (DRAM bandwidth, batch) and the memory-bound cycles come from
  :mod:`hw.cost.memory_bound`, which takes the conservative placement of that per-element work:
  off the chip, so every op's activations cross the chip boundary. The compute-only numbers
  (the array never waits for data) are kept beside them.

The ops are :mod:`hw.ops` ops (shape-only); each splits itself into legal sub-jobs of a config
(``legal_jobs``: matmuls in greedy chunks along M, N and K, whose integer partial sums add
exactly and are counted as non-array work; pools along planes and, when one plane is too big, in
bands of whole output rows/columns on an unpadded axis) and the cycles of the sub-jobs add up.

The one place where ``hw`` imports the ``model`` package: :func:`network_config` and
:func:`trace_network` below (the model builds the op list). Everything else in ``hw`` works on
:mod:`hw.ops` ops and never imports ``model``; ``model`` imports only :mod:`hw.ops` and
:mod:`hw.opfile`. tests/test_import_graph.py holds both rules.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import ArrayConfig, ConfigError, memory_bits
from ..paths import CHECKPOINTS_DIR, DIGITS_CHECKPOINT, REPO
from ..ops import MatmulOp, Op, OpKind, PoolOp
from .cycles import MATMUL_TERMS, frame_cycles, matmul_terms
from .memory_bound import Bandwidth, check_batch, memory_bound_cost
from .utilisation import config_utilisation

#: the model family of model/variants.py (``VARIANTS``; tests/hw/test_network.py checks the two
#: lists agree): each traces at ImageNet 224 px under its own name and at the digits scale of
#: its trained checkpoint as ``<variant>-digits``. Spelled out here so that listing the names
#: (``--help``) does not import the model package (torch).
VARIANT_NAMES = ("binaryvit-s", "binaryvit-s-somefp", "reactdeit-s", "reactdeit-s-avgpool",
                 "reactdeit-s-avgpool-mb", "reactdeit-s-avgpool-mb-ls", "bivit-deit-t",
                 "fp-teacher")
#: the suffix of a variant's digits-scale network name
DIGITS_SUFFIX = "-digits"
NETWORKS = ("digits-tiny",) + VARIANT_NAMES + tuple(v + DIGITS_SUFFIX for v in VARIANT_NAMES)


class NetworkError(ValueError):
    """Unknown network name, or a network that cannot run on a config; says what to do."""


# ---- the op list ---------------------------------------------------------------------------------
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
    parameters: int = 0              # trainable parameters of the model (binary and FP)

    @property
    def matmuls(self) -> list[MatmulOp]:
        return [op for op in self.ops if op.kind is OpKind.MATMUL]

    @property
    def pools(self) -> list[PoolOp]:
        return [op for op in self.ops if op.kind is OpKind.POOL]

    def macs(self, group: str | None = None) -> int:
        """Binary MACs of the matmuls (of one group: linear, merge, attention)."""
        return sum(op.macs for op in self.matmuls if group is None or op.group == group)

    @property
    def weight_bits(self) -> int:
        return sum(op.weight_bits for op in self.matmuls)

    def work(self, unit: str) -> int:
        """Total non-array work in ``unit`` ("elements" or "FP MACs")."""
        return sum(w.count for w in self.elementwise if w.unit == unit)


def network_config(name: str):
    """(model config, source) of a network name (:data:`NETWORKS`):

    - ``digits-tiny``: the committed checkpoint's config.json when present, else
      ``model.tiny_digits_config()``;
    - ``binaryvit-s``: ``model.BinaryViTConfig()`` (BinaryViT-S, 224 px);
    - another variant of model/variants.py: its official config (ImageNet, 224 px);
    - ``<variant>-digits``: the config.json of its trained checkpoint
      (model/checkpoints/<variant>/) when present, else the variant's tiny config.
    """
    from model import BinaryViTConfig, tiny_digits_config
    from model.variants import get_variant

    key = str(name).strip().lower()
    if key == "digits-tiny":
        path = DIGITS_CHECKPOINT / "config.json"
        if path.is_file():
            return BinaryViTConfig.load(path), f"{path.relative_to(REPO)}"
        return tiny_digits_config(), "model.tiny_digits_config()"
    if key == "binaryvit-s":
        return BinaryViTConfig(), "model.BinaryViTConfig() (BinaryViT-S, 224 px)"
    if key in VARIANT_NAMES:
        v = get_variant(key)
        return v.official, (f"model.variants.VARIANTS[{key!r}].official (ImageNet, 224 px; "
                            f"{v.source})")
    if key.endswith(DIGITS_SUFFIX) and key[:-len(DIGITS_SUFFIX)] in VARIANT_NAMES:
        variant = key[:-len(DIGITS_SUFFIX)]
        path = CHECKPOINTS_DIR / variant / "config.json"
        if path.is_file():
            return BinaryViTConfig.load(path), f"{path.relative_to(REPO)}"
        return (get_variant(variant).tiny,
                f"model.variants.VARIANTS[{variant!r}].tiny (no checkpoint at "
                f"{path.parent.relative_to(REPO)})")
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
    from model.trace import recording

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = BinaryViT(cfg).eval()
    counter = _ElementCounter(model)
    images = torch.zeros(1, cfg.in_channels, cfg.image_size, cfg.image_size)
    with torch.no_grad(), recording() as trace, counter:
        model(images)
    ops = [op.shape_only() for op in trace.ops]
    net = Network(name or cfg.name, cfg, ops, source=source,
                  parameters=sum(p.numel() for p in model.parameters()))
    net.elementwise = counter.work(net)
    return net


class _ElementCounter:
    """Counts the non-array work of a forward pass with module hooks (BatchNorms, LayerNorms,
    RPReLU, LayerScale, the FP stem conv, FP patch-merge convs, FP linears and the head) and a
    torch function mode (tensor adds outside those modules: residual and shortcut adds,
    position embeddings, Q/K/V sign thresholds; and, in a full-precision model, the attention
    matmuls, softmax and GELU, which no binary op records)."""

    def __init__(self, model):
        from torch import nn

        from model.layers import (BinaryLinear, BinaryMergeConv, LayerScale, RPReLU,
                                  TokenBatchNorm)

        self.model = model
        self.fp = not model.config.binary
        self.counts = Counter()
        self.depth = 0
        self.handles = []
        cats = {TokenBatchNorm: "norm", nn.LayerNorm: "layernorm", RPReLU: "rprelu",
                LayerScale: "layerscale"}
        leaves = (TokenBatchNorm, nn.LayerNorm, RPReLU, LayerScale, BinaryLinear,
                  BinaryMergeConv, nn.Conv2d, nn.Linear)
        for mod in model.modules():
            if not isinstance(mod, leaves):
                continue
            cat = next((c for t, c in cats.items() if isinstance(mod, t)), None)
            if isinstance(mod, nn.Conv2d):   # the stem, or an FP patch merge (--some-fp)
                cat = "stem" if mod is model.stem.proj else "fp_merge"
            elif isinstance(mod, nn.Linear):  # the head, or a layer of the FP teacher
                cat = "head" if mod is model.head else "fp_linear"
            self.handles.append(mod.register_forward_pre_hook(self._enter))
            self.handles.append(mod.register_forward_hook(self._leave(cat)))

    def _enter(self, mod, args):
        self.depth += 1

    def _leave(self, cat):
        def hook(mod, args, out):
            self.depth -= 1
            if cat in ("stem", "fp_merge"):   # FP MACs: outputs x (in_channels * kh * kw)
                self.counts[cat] += out.numel() * mod.in_channels * mod.kernel_size[0] * \
                    mod.kernel_size[1]
            elif cat in ("head", "fp_linear"):
                self.counts[cat] += out.numel() * mod.in_features
            elif cat is not None:
                self.counts[cat] += out.numel()
        return hook

    def __enter__(self):
        import torch
        import torch.nn.functional as F
        from torch.overrides import TorchFunctionMode

        counter = self
        adds = {torch.Tensor.__add__, torch.Tensor.__radd__, torch.add, torch.Tensor.add}
        matmuls = {torch.Tensor.__matmul__, torch.matmul}
        softmax = {F.softmax, torch.softmax, torch.Tensor.softmax}

        class _Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                if counter.depth or not isinstance(out, torch.Tensor):
                    return out
                name = getattr(func, "__name__", "")
                if func in adds:
                    counter.counts["adds"] += out.numel()
                elif not counter.fp:
                    return out
                elif func in matmuls or name in ("matmul", "__matmul__"):   # Q.K^T and A.V
                    counter.counts["fp_attention"] += out.numel() * args[0].shape[-1]
                elif func in softmax or name == "softmax":
                    counter.counts["softmax"] += out.numel()
                elif name == "gelu":
                    counter.counts["gelu"] += out.numel()
                return out

        self.mode = _Mode()
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        self.mode.__exit__(*exc)
        for h in self.handles:
            h.remove()

    def work(self, net: Network) -> list[ElementwiseWork]:
        """The non-array work of ``net``: the categories every network has, then the ones only
        some variants have (listed only when the network has them)."""
        pe, cpu = "per-element unit", "host CPU"
        cfg = self.model.config
        sign = sum(op.m * op.k for op in net.matmuls if op.group != "attention")
        scores = [op for op in net.matmuls if op.name.endswith(".scores")]
        n_scores = sum(op.m * op.n for op in scores) if not self.fp else self.counts["softmax"]
        c = self.counts
        out = [
            ElementwiseWork("norm affine (BatchNorm, folded with alpha)", c["norm"], "elements",
                            pe, "per-channel a*x+b; the binary layers' alpha folds into it"),
            ElementwiseWork("RPReLU", c["rprelu"], "elements", pe),
            ElementwiseWork("LayerScale", c["layerscale"], "elements", pe),
            ElementwiseWork("RSign thresholds of binary-layer inputs", sign, "elements", pe,
                            "sign(x + move) of every weight-layer input bit (M*K)"),
            ElementwiseWork("softmax (exp, sum, divide)", n_scores, "elements", pe,
                            "over the Q.K^T scores, scaled by 1/sqrt(d)"
                            + (" (Bi-ViT: gamma_h/sqrt(d), one constant per head)"
                               if cfg.block == "bivit" else "")),
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
        if c["layernorm"]:
            out.append(ElementwiseWork(
                "LayerNorm (mean, variance, normalise, affine)", c["layernorm"], "elements", pe,
                "over the channels of every token (and, in Bi-ViT, of Q and K per head): a "
                "reduction per token, unlike the BatchNorm affines"))
        if cfg.block == "bivit":
            out.append(ElementwiseWork(
                "alpha scale of weight-layer results (no BatchNorm to fold it into)",
                sum(op.m * op.n for op in net.matmuls if op.group != "attention"), "elements",
                pe, "an upper bound: where a sign follows directly (V, FC1 -> GELU -> sign) the "
                "positive alpha and GELU change nothing and can be dropped"))
        if c["fp_merge"]:
            out.append(ElementwiseWork(
                "FP patch-merge conv (--some-fp)", c["fp_merge"], "FP MACs", cpu,
                "2x2/2 float conv of every merge, between the array's stages"))
        if c["fp_linear"] or c["fp_attention"]:
            out.append(ElementwiseWork("FP linears (qkv, proj, FC1, FC2)", c["fp_linear"],
                                       "FP MACs", cpu, "full-precision network: no array op"))
            out.append(ElementwiseWork("FP attention products (Q.K^T, A.V)",
                                       c["fp_attention"], "FP MACs", cpu))
        if c["gelu"]:
            out.append(ElementwiseWork("GELU", c["gelu"], "elements", pe))
        if cfg.cls_token:
            out.append(ElementwiseWork(
                "class token (prepend; the head reads token 0)", cfg.dims[0], "elements", pe,
                "one more row in every weight-layer and attention job (in the traced shapes); "
                "no GAP pool"))
        return out


# ---- legal jobs ----------------------------------------------------------------------------------
def op_jobs(cfg: ArrayConfig, op: Op) -> Counter:
    """Legal sub-jobs of an op on ``cfg`` (shape-only :mod:`hw.ops` ops with counts); a
    NetworkError says why an op cannot be split to fit."""
    try:
        return op.legal_jobs(cfg)
    except ConfigError as exc:
        raise NetworkError(str(exc)) from None


# ---- the cost of a network on a config -----------------------------------------------------------
@dataclass(frozen=True)
class OpCost:
    """Cost of one op on one array config."""

    op: object
    jobs: int              # legal sub-jobs
    cycles: int            # hw.cost.cycles, summed over sub-jobs
    weight_traffic_bits: int   # weight bits the array loads (N*K per sub-job; re-loads included)


def bram_bits_per_block(family: str) -> int:
    """Data bits of one device block-RAM unit of a family (the largest mode of
    :data:`hw.cost.resources.BRAM_SHAPES`, per unit of cost)."""
    from .resources import BRAM_SHAPES

    return int(max(d * w / cost for d, w, cost in BRAM_SHAPES[family]))


def network_cost(net: Network, cfg: ArrayConfig, bandwidth: Bandwidth | None = None,
                 batch: int = 1) -> dict:
    """Per-op and total cost of ``net`` on ``cfg`` at ``cfg.clock_mhz``.

    The array numbers (``cycles``, ``utilisation``, ``frames_per_s``, ``latency_ms`` of the
    totals and the ops) are compute-only: the array never waits for off-chip data. With a
    ``bandwidth`` (:class:`hw.cost.memory_bound.Bandwidth`; None: unlimited) and ``batch``
    (frames per batch, weights loaded once per batch) the memory-bound model
    (:mod:`hw.cost.memory_bound`) adds, per op, its off-chip bytes per frame, memory cycles and
    ``bound``, and the totals ``*_with_bandwidth`` and ``memory_bound_ops``; its own totals are
    under ``offchip``. Returns a JSON-able dict (ops, totals, offchip, memory, elementwise).
    """
    batch = check_batch(batch)
    require_array_ops(net)
    f_hz = cfg.clock_mhz * 1e6
    costs = []
    terms = dict.fromkeys(MATMUL_TERMS, 0)     # where the matmul cycles go, over the frame
    for op in net.ops:
        jobs = op_jobs(cfg, op)
        cyc = sum(n * job.cycles(cfg) for job, n in jobs.items())
        if op.kind is OpKind.MATMUL:
            for job, n in jobs.items():
                for key, v in matmul_terms(cfg, job.m, job.n, job.k).items():
                    terms[key] += n * v
            if cfg.keep_weights:
                # the host runs the M chunks of each N, K chunk back to back, every one
                # after the first keeping its weights (hw.ops.keep_flags): no W load
                kept = op.weight_reload_cycles(cfg)
                cyc -= kept
                terms["w_load"] -= kept
        traffic = sum(n * job.weight_bits for job, n in jobs.items())
        if cfg.keep_weights and op.kind is OpKind.MATMUL:
            traffic -= op.weight_reload_bits(cfg)       # each N, K chunk's weights once
        costs.append(OpCost(op, sum(jobs.values()), cyc, traffic))
    alone_mm = sum(c.cycles for c in costs if c.op.kind is OpKind.MATMUL)
    if cfg.w_buffers == 2:
        costs = streamed_costs(cfg, costs)
    bound = memory_bound_cost([(c.op, c.cycles) for c in costs], cfg, bandwidth, batch)
    off = bound["totals"]
    mm_cycles = sum(c.cycles for c in costs if c.op.kind is OpKind.MATMUL)
    pool_cycles = sum(c.cycles for c in costs) - mm_cycles
    total = frame_cycles(mm_cycles, pool_cycles, cfg.pool_port)
    macs = net.macs()
    rows = []
    for c, b in zip(costs, bound["ops"]):
        op = c.op
        rows.append({
            "name": op.name, "kind": op.kind.value, "group": op.group, "mode": op.mode,
            "shape": op.label, "jobs": c.jobs, "cycles": c.cycles, "macs": op.macs,
            "utilisation": (config_utilisation(op.macs, c.cycles, cfg)
                            if op.kind is OpKind.MATMUL else None),
            "weight_bits": op.weight_bits, "weight_traffic_bits": c.weight_traffic_bits,
            "offchip_bytes_per_frame": b["bytes_per_frame"],
            "offchip_weight_bytes_per_frame": b["weight_bytes_per_frame"],
            "memory_cycles": b["memory_cycles"], "cycles_with_bandwidth": b["cycles"],
            "bound": b["bound"]})
    k_split_adds = sum(op.m * op.n * (op.k_splits(cfg) - 1) for op in net.matmuls)
    loads = terms["w_load"] + terms["a_load"]
    latency_s = (mm_cycles + pool_cycles) / f_hz      # one frame, first command to last result
    traffic = sum(c.weight_traffic_bits for c in costs)
    return {
        "network": net.name, "network_source": net.source, "config": cfg.to_dict(),
        "bandwidth": bandwidth.to_dict() if bandwidth is not None else None, "batch": batch,
        "ops": rows,
        "totals": {
            "ops": len(net.ops), "jobs": sum(c.jobs for c in costs),
            "cycles": total, "matmul_cycles": mm_cycles, "pool_cycles": pool_cycles,
            # one frame alone, start to end, where the cores overlap across frames
            # (pool_port 1, hw.cost.cycles.frame_cycles): at most the sum
            "frame_latency_cycles": mm_cycles + pool_cycles,
            "binary_macs": macs, "binary_macs_linear": net.macs("linear"),
            "binary_macs_merge": net.macs("merge"), "binary_macs_attention": net.macs("attention"),
            "pool_window_adds": sum(op.macs for op in net.pools),
            "utilisation": config_utilisation(macs, total, cfg),
            "utilisation_matmul_cycles": (config_utilisation(macs, mm_cycles, cfg)
                                          if mm_cycles else None),
            "latency_ms": latency_s * 1e3, "frames_per_s": f_hz / total,
            "cycles_with_bandwidth": off["cycles_per_frame"],
            "utilisation_with_bandwidth": off["utilisation"],
            "latency_ms_with_bandwidth": off["cycles_per_frame"] / f_hz * 1e3,
            "frames_per_s_with_bandwidth": off["frames_per_s"],
            "memory_bound_ops": off["memory_bound_ops"],
            "offchip_bytes_per_frame": off["bytes_per_frame"],
            "weight_traffic_bits_per_frame": traffic,
            "weight_traffic_mb_per_frame": traffic / 8 / 1e6,
            "k_split_partial_adds": k_split_adds,
            # two weight buffers: the matmul jobs streamed (hw/cost/sequence.py) take this many
            # cycles fewer than one at a time (W loads hidden, commands taken ahead)
            "streamed_saved_cycles": alone_mm - mm_cycles,
            # where the matmul cycles go (hw.cost.cycles.matmul_terms, summed over the jobs)
            "matmul_terms": terms,
            # the W loads of later M chunks: what keeping a layer's weights across its M
            # chunks saves (keep_weights 1: saved, already out of the cycles above; 0: what
            # it would save); and an upper bound of a load overlap this design does not
            # have (hw/README.md, Dataflow): every load hidden behind compute (the frame then)
            "weight_reload_cycles": sum(op.weight_reload_cycles(cfg) for op in net.matmuls),
            # (from the jobs one at a time: two buffers' streaming hides part of these loads)
            "cycles_every_load_hidden": frame_cycles(alone_mm - loads, pool_cycles,
                                                     cfg.pool_port),
        },
        "offchip": off,
        "memory": memory_needs(net, cfg),
        "elementwise": [vars(w) for w in net.elementwise],
    }


def matmul_runs(cfg: ArrayConfig, ops) -> list[list[tuple[int, tuple]]]:
    """The streamed sequences (``w_buffers`` 2) a frame's matmul jobs run as: (op index in
    ``ops``, (M, N, K)) of every job, the ops in order, each op's jobs in :func:`op_jobs`
    order; with one core (``pool_port`` 0) a pool ends a sequence (the host sends the next
    command after the pool's last result). Empty sequences are left out."""
    runs: list[list[tuple[int, tuple]]] = [[]]
    for i, op in enumerate(ops):
        if op.kind is OpKind.MATMUL:
            for job, n in op_jobs(cfg, op).items():
                runs[-1] += [(i, (job.m, job.n, job.k))] * n
        elif not cfg.pool_port:
            runs.append([])
    return [run for run in runs if run]


def streamed_costs(cfg: ArrayConfig, costs: list) -> list:
    """``costs`` with each matmul op charged what its jobs add to a streamed sequence
    (:func:`hw.cost.sequence.streamed_increments`, ``w_buffers`` 2, the sequences of
    :func:`matmul_runs`)."""
    from .sequence import streamed_increments

    charged = [0] * len(costs)
    for run in matmul_runs(cfg, [c.op for c in costs]):
        for (i, _), inc in zip(run, streamed_increments(cfg, [shape for _, shape in run])):
            charged[i] += inc
    return [replace(c, cycles=charged[i]) if c.op.kind is OpKind.MATMUL else c
            for i, c in enumerate(costs)]


def memory_needs(net: Network, cfg: ArrayConfig) -> dict:
    """On-chip storage the network needs (bits): all binary weights, the largest weight layer
    (N x K: what a batch keeps on chip while its frames pass, :mod:`hw.cost.memory_bound`),
    the largest working set of one op (A bits + W bits + the M x N results at the array's lane
    width); and the array's own job buffers (:func:`hw.config.memory_bits`: the operand banks
    and the pool unit's open-row banks)."""
    work = 0
    for op in net.ops:
        if op.kind is OpKind.MATMUL:
            work = max(work, op.m * op.k + op.n * op.k + op.m * op.n * cfg.lane_width)
        else:
            ho, wo = op.out_hw
            work = max(work, op.planes * (op.h * op.w + ho * wo) * cfg.pool_bits)
    return {"weight_bits": net.weight_bits, "largest_op_working_set_bits": work,
            "largest_weight_op_bits": max((op.weight_bits for op in net.matmuls), default=0),
            "array_buffer_bits": memory_bits(cfg)}


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


def require_array_ops(net: Network) -> None:
    """NetworkError for a network with no binary op (the full-precision teacher): it has
    nothing to run on the array, so no cycles, frames/s or utilisation."""
    if not net.ops:
        raise NetworkError(f"network {net.name!r} has no binary matmul or pool (a full-"
                           "precision network): nothing runs on the array; cost a binary "
                           "variant instead")


def require_fit(net: Network, cfg: ArrayConfig) -> None:
    """Raise NetworkError if the network has no array op, or some op cannot be split into
    legal jobs of ``cfg``."""
    require_array_ops(net)
    for op in net.ops:
        op_jobs(cfg, op)
