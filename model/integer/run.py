"""Running the integer model: :func:`network_steps`, a generator that computes the whole network
on integers and hands every binary matmul and pooling to its caller as an :mod:`hw.ops` op (the
same names, modes, shapes and order as the float trace), receiving the integer result back; and
:func:`run_reference`, which drives it with the integer model's own executor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generator

import numpy as np

from hw.ops import MatmulOp, OpKind, PoolOp

from ..binaryvit import Block
from . import ops
from .fold import HEAD_IN_BITS, LOGIT_BITS
from .intmodel import IntegerBinaryViT

#: width of the pool inputs (two's complement): the RTL's default pool unit
POOL_BITS = 16


@dataclass
class IntegerRun:
    """The outcome of one integer run: ``logits`` (B, classes) int64 at scale
    2**-frac["logits"], ``tensors`` every intermediate integer tensor in computation order
    (names: model/INTEGER.md), ``predictions`` (B,) argmax of the logits (first maximum)."""

    logits: np.ndarray
    tensors: dict[str, np.ndarray]
    predictions: np.ndarray


Steps = Generator[MatmulOp | PoolOp, np.ndarray, IntegerRun]


def _planes(x: np.ndarray, grid: int) -> np.ndarray:
    """(B, T, C) tokens on a grid x grid raster -> (B * C, grid, grid) planes."""
    b, _, c = x.shape
    return x.transpose(0, 2, 1).reshape(b * c, grid, grid)


def _tokens(planes: np.ndarray, batch: int) -> np.ndarray:
    """(B * C, H, W) planes -> (B, H * W, C) tokens."""
    p, h, w = planes.shape
    return planes.reshape(batch, p // batch, h * w).transpose(0, 2, 1)


def _upsample(x: np.ndarray, grid: int, r: int) -> np.ndarray:
    """Nearest-neighbour upsampling of (B, (grid/r)**2, C) tokens to (B, grid**2, C)."""
    b, _, c = x.shape
    g = grid // r
    img = x.reshape(b, g, g, c).repeat(r, axis=1).repeat(r, axis=2)
    return img.reshape(b, grid * grid, c)


def _received(op, result, shape) -> np.ndarray:
    if result is None:
        raise ValueError(f"op {op.name}: network_steps needs the integer result sent back with "
                         ".send(result)")
    r = np.asarray(result)
    if r.shape != tuple(shape) or not (np.issubdtype(r.dtype, np.integer)
                                       or np.array_equal(r, np.round(r))):
        raise ValueError(f"op {op.name}: the result sent back has shape {r.shape} "
                         f"({r.dtype}); expected integers of shape {tuple(shape)}")
    return r.astype(np.int64)


def _matmul(name, mode, a_bits, w_bits):
    op = MatmulOp.from_bits(name, mode, a_bits, w_bits)
    result = yield op
    return _received(op, result, (op.m, op.n))


def _pool(name, x, frac, kernel, stride, padding):
    op = PoolOp.from_values(name, x, frac, POOL_BITS, kernel, stride, padding)
    result = yield op
    return _received(op, result, op.out_shape)


class _Net:
    """The constants of one layer and the tensor log of a run (a helper of network_steps)."""

    def __init__(self, int_model: IntegerBinaryViT):
        self.m = int_model
        self.tensors: dict[str, np.ndarray] = {}

    def put(self, name: str, value: np.ndarray) -> np.ndarray:
        self.tensors[name] = value
        return value

    def affine(self, layer, unit, xs, bits=ops.ACT_BITS):
        consts = self.m.layers[layer]
        terms = [(x, consts[f"{unit}.m{i}"]) for i, x in enumerate(xs)]
        return ops.affine(terms, consts[f"{unit}.bias"], consts[f"{unit}.shift"], bits)

    def rprelu(self, layer, unit, x):
        c = self.m.layers[layer]
        return ops.rprelu(x, c[f"{unit}.shift_in"], c[f"{unit}.slope"], c[f"{unit}.slope_shift"],
                          c[f"{unit}.bias"], c[f"{unit}.shift"])


def _check_images(int_model, images_q) -> np.ndarray:
    cfg, f = int_model.config, int_model.input
    q = np.asarray(images_q)
    want = (cfg.in_channels, cfg.image_size, cfg.image_size)
    if q.ndim != 4 or q.shape[1:] != want or q.shape[0] < 1:
        raise ValueError(f"expected integer images of shape (B, {', '.join(map(str, want))}), "
                         f"got {q.shape}")
    if not np.issubdtype(q.dtype, np.integer):
        raise ValueError(f"images must be integers (quantize_images), got {q.dtype}")
    if q.min() < f.lo or q.max() > f.hi:
        raise ValueError(f"image values must lie in {f.lo}..{f.hi} (the input format), got "
                         f"{q.min()}..{q.max()}")
    return q.astype(np.int64)


def network_steps(int_model: IntegerBinaryViT, images_q: np.ndarray) -> Steps:
    """Run the integer network on ``images_q`` (B, C, S, S) integers (:func:`quantize_images`).

    Yields every binary matmul (:class:`hw.ops.MatmulOp` with its bits) and pooling
    (:class:`hw.ops.PoolOp`, 16-bit values) with the float trace's names, modes, shapes and
    order; the caller sends back its integer result (matmul: (M, N) sums of a * w; pool:
    (P, Ho, Wo) window sums with zero padding). Everything in between uses
    :mod:`model.integer.ops`. Returns (StopIteration.value) an :class:`IntegerRun`."""
    cfg = int_model.config
    q = _check_images(int_model, images_q)
    net = _Net(int_model)
    batch, p = q.shape[0], cfg.patch_size
    net.put("input", q)

    # stem: im2col of the patches, K ordered (channel, kh, kw) like weight.reshape(out, -1)
    g0 = cfg.image_size // p
    cols = q.reshape(batch, cfg.in_channels, g0, p, g0, p).transpose(0, 2, 4, 1, 3, 5)
    cols = cols.reshape(batch * g0 * g0, -1)
    acc = ops.int_matmul(cols, int_model.layers["stem"]["weight"])
    acc = net.put("stem.acc", acc.reshape(batch, g0 * g0, -1))
    x = net.put("stem.out", net.affine("stem", "stem", [acc]))

    for s in range(cfg.num_stages):
        if s > 0:
            x = yield from _merge(net, s, x, batch)
        for b in range(cfg.depths[s]):
            x = yield from _block(net, s, f"stages.{s}.blocks.{b}", x, batch)

    grid = cfg.stage_grids[-1]
    hn = net.put("head.norm", net.affine("head", "norm", [x]))
    sums = yield from _pool("gap", _planes(hn, grid), int_model.frac["head.norm"], grid, grid, 0)
    sums = net.put("head.gap_sum", sums.reshape(batch, -1))
    hin = net.put("head.in", net.affine("head", "in", [sums], bits=HEAD_IN_BITS))
    acc = net.put("head.acc", ops.int_matmul(hin, int_model.layers["head"]["weight"]))
    logits = net.put("logits", net.affine("head", "logits", [acc], bits=LOGIT_BITS))
    return IntegerRun(logits, net.tensors, logits.argmax(axis=-1))


def _merge(net: _Net, s: int, x, batch: int):
    cfg, pre = net.m.config, f"stages.{s}.merge"
    L = net.m.layers[pre]
    grid, cin, cout = cfg.stage_grids[s - 1], cfg.dims[s - 1], cfg.dims[s]
    h = net.put(f"{pre}.h", net.affine(pre, "norm_in", [x]))
    sums = yield from _pool(f"{pre}.shortcut_pool", _planes(h, grid), net.m.frac[f"{pre}.h"],
                            2, 2, 0)
    sums = net.put(f"{pre}.shortcut_sum", _tokens(sums, batch))
    bits = net.put(f"{pre}.conv.sign", ops.sign_bits(h, L["conv.move"]))
    g2 = grid // 2
    cols = _planes(bits, grid).reshape(batch, cin, g2, 2, g2, 2).transpose(0, 2, 4, 1, 3, 5)
    acc = yield from _matmul(f"{pre}.conv", "xnor", cols.reshape(batch * g2 * g2, cin * 4),
                             L["conv.w_bits"])
    acc = net.put(f"{pre}.conv.acc", acc.reshape(batch, g2 * g2, cout))
    pre_act = net.put(f"{pre}.pre", net.affine(pre, "conv",
                                               [acc, np.tile(sums, (1, 1, cout // cin))]))
    return net.put(f"{pre}.out", net.rprelu(pre, "act", pre_act))


def _linear(net: _Net, layer: str, unit: str, x, move_key: str | None = None):
    """RSign of x, the binary matmul of ``layer.unit``; returns (B, T, N) results."""
    L = net.m.layers[layer]
    bits = net.put(f"{layer}.{unit}.sign", ops.sign_bits(x, L[move_key or f"{unit}.move"]))
    b, t, k = bits.shape
    acc = yield from _matmul(f"{layer}.{unit}", "xnor", bits.reshape(b * t, k),
                             L[f"{unit}.w_bits"])
    return net.put(f"{layer}.{unit}.acc", acc.reshape(b, t, -1))


def _block(net: _Net, s: int, pre: str, x, batch: int):
    cfg, frac = net.m.config, net.m.frac
    L = net.m.layers[pre]
    grid, dim, heads, r = cfg.stage_grids[s], cfg.dims[s], cfg.heads[s], cfg.sr_ratios[s]
    hd, ratio = dim // heads, cfg.ffn_sizes[s] // dim
    put = net.put

    h = put(f"{pre}.h", net.affine(pre, "norm1", [x]))
    acc = yield from _linear(net, pre, "attn.q", h)
    q_pre = put(f"{pre}.attn.q.pre", net.affine(pre, "attn.q", [acc, h]))
    kv = h
    if r > 1:
        sums = yield from _pool(f"{pre}.attn.sr_pool", _planes(h, grid), frac[f"{pre}.h"], r, r, 0)
        pooled = put(f"{pre}.attn.sr_sum", _tokens(sums, batch))
        acc = yield from _linear(net, pre, "attn.sr", pooled)
        sr_pre = put(f"{pre}.attn.sr.pre", net.affine(pre, "attn.sr", [acc, pooled]))
        kv = put(f"{pre}.attn.sr.act", net.rprelu(pre, "attn.sr.act", sr_pre))
    acc = yield from _linear(net, pre, "attn.k", kv)
    k_pre = put(f"{pre}.attn.k.pre", net.affine(pre, "attn.k", [acc, kv]))
    acc = yield from _linear(net, pre, "attn.v", kv)
    v_pre = put(f"{pre}.attn.v.pre", net.affine(pre, "attn.v", [acc, kv]))
    acts = {}
    for u, val in (("q", q_pre), ("k", k_pre), ("v", v_pre)):
        acts[u] = put(f"{pre}.attn.{u}.act", net.rprelu(pre, f"attn.{u}.act", val))
    signs = {u: put(f"{pre}.attn.{u}b", ops.sign_bits(acts[u], L[f"attn.{u}.sign_move"]))
             for u in ("q", "k", "v")}

    tq, tk = signs["q"].shape[1], signs["k"].shape[1]
    scores = np.zeros((batch, heads, tq, tk), dtype=np.int64)
    masks = np.zeros((batch, heads, tq, tk), dtype=np.uint8)
    context = np.zeros((batch, tq, dim), dtype=np.int64)
    table, cm, cs = L["attn.exp_table"], int(L["attn.clip_mult"]), int(L["attn.clip_shift"])
    for b in range(batch):
        for hh in range(heads):
            sl = slice(hh * hd, (hh + 1) * hd)
            tag = f"{pre}.attn.b{b}.h{hh}"
            sc = yield from _matmul(f"{tag}.scores", "xnor", signs["q"][b, :, sl],
                                    signs["k"][b, :, sl])
            mask = ops.attention_mask(sc, table, cm, cs)
            ctx = yield from _matmul(f"{tag}.context", "and", mask, signs["v"][b, :, sl].T)
            scores[b, hh], masks[b, hh], context[b, :, sl] = sc, mask, ctx
    put(f"{pre}.attn.scores", scores)
    put(f"{pre}.attn.mask", masks)
    put(f"{pre}.attn.context", context)
    k_act, v_act = acts["k"], acts["v"]
    if r > 1:
        k_act, v_act = _upsample(k_act, grid, r), _upsample(v_act, grid, r)
    c_pre = put(f"{pre}.attn.ctx.pre", net.affine(pre, "attn.ctx",
                                                  [context, acts["q"], k_act, v_act]))
    a = put(f"{pre}.attn.out", net.rprelu(pre, "attn.ctx.act", c_pre))

    acc = yield from _linear(net, pre, "attn_proj", a)
    p_pre = put(f"{pre}.attn_proj.pre", net.affine(pre, "attn_proj", [acc, a]))
    p_act = put(f"{pre}.attn_proj.act", net.rprelu(pre, "attn_proj.act", p_pre))
    x1 = put(f"{pre}.x1", net.affine(pre, "x1", [p_act, x]))

    h2 = put(f"{pre}.h2", net.affine(pre, "norm2", [x1]))
    acc = yield from _linear(net, pre, "fc1", h2)
    f_pre = put(f"{pre}.fc1.pre", net.affine(pre, "fc1", [acc, np.tile(h2, (1, 1, ratio))]))
    f = put(f"{pre}.fc1.act", net.rprelu(pre, "fc1.act", f_pre))
    acc = yield from _linear(net, pre, "fc2", f)
    shortcut = f
    if ratio > 1:
        b_, t_, c_ = f.shape
        sums = yield from _pool(f"{pre}.fc2_shortcut_pool", f.reshape(b_ * t_, 1, c_),
                                frac[f"{pre}.fc1.act"], (1, ratio), (1, ratio), 0)
        shortcut = put(f"{pre}.fc2_shortcut_sum", sums.reshape(b_, t_, -1))
    g_pre = put(f"{pre}.fc2.pre", net.affine(pre, "fc2", [acc, shortcut]))
    g = put(f"{pre}.fc2.act", net.rprelu(pre, "fc2.act", g_pre))

    branch = []
    if cfg.pool_branches:
        planes = _planes(h2, grid)
        for name, (kh, kw) in Block.BRANCHES.items():
            sums = yield from _pool(f"{pre}.pool_{name}", planes, frac[f"{pre}.h2"], (kh, kw),
                                    1, (kh // 2, kw // 2))
            branch.append(put(f"{pre}.pool_{name}_sum", _tokens(sums, batch)))
    return put(f"{pre}.out", net.affine(pre, "out", [g, x1, *branch]))


# ---- executing the ops: the integer model's own executor ------------------------------------
def execute(op: MatmulOp | PoolOp) -> np.ndarray:
    """The integer model's own result of one yielded op: a +-1 integer matmul
    (:func:`ops.pm1_matmul`, numpy int64 dot) or prefix-sum window sums
    (:func:`ops.window_sum`); independent of hw.ops' golden()."""
    if op.kind is OpKind.MATMUL:
        return ops.pm1_matmul(op.a_bits, op.w_bits, op.mode)
    return ops.window_sum(op.x, op.kernel, op.stride, op.padding)


def drive(steps: Steps, executor: Callable | None = None,
          on_op: Callable | None = None) -> IntegerRun:
    """Run a :func:`network_steps` generator to the end, answering every op with
    ``executor(op)`` (default: :func:`execute`); ``on_op(op, result)`` sees each op and its
    result. Returns the :class:`IntegerRun`."""
    run_op = executor or (lambda op: execute(op))     # looked up per call (tests patch it)
    try:
        op = next(steps)
        while True:
            result = run_op(op)
            if on_op is not None:
                on_op(op, result)
            op = steps.send(result)
    except StopIteration as stop:
        return stop.value


def run_reference(int_model: IntegerBinaryViT, images_q: np.ndarray) -> IntegerRun:
    """The integer model on ``images_q``, every binary op executed by :func:`execute`."""
    return drive(network_steps(int_model, images_q))
