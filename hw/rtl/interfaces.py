"""Signatures of the links between the parts of the composed matmul core
(:class:`hw.rtl.composed_core.ComposedCore`, ``ArrayConfig.core_parts`` = 1).

Each signature is written from its producer's side (``Out`` = driven by the producer); the
consumers take it flipped (``In(...)``) and :func:`amaranth.lib.wiring.connect` joins one producer
to one or more consumers.
"""

from __future__ import annotations

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig, ceil_log2
from .flags import at_most
from .formats import cmd_layout, out_layout


def kw_bits(cfg: ArrayConfig) -> int:
    """Bits of a count of words per row, 0 .. KW_max + 1."""
    return (cfg.kw_max + 1).bit_length()


def k_words(k, simd: int) -> dict:
    """The values :func:`job_signature` carries derived from a job's K (a Value) on
    ``simd``-bit words, by name: ``kwords`` KW = ceil(K / simd), ``kw_pen`` KW - 2 (wraps when
    KW = 1), ``kw_one`` KW == 1 (gates, :func:`hw.rtl.flags.at_most`, not a carry chain)."""
    lgs = ceil_log2(simd)
    return {"kwords": (k + simd - 1) >> lgs, "kw_pen": (k - (simd + 1)) >> lgs,
            "kw_one": at_most(k, simd)}


def job_signature(cfg: ArrayConfig) -> wiring.Signature:
    """Job control -> loader, tile reader, result path (:class:`hw.rtl.parts.job_control.JobControl`).

    - ``job`` (:func:`hw.rtl.formats.cmd_layout`): the command of the current job, registered
      when its beat is taken.
    - ``setup`` (1): high in the job's setup cycle, the cycle after the command beat; the parts
      initialise their registers for the job then.
    - ``kwords`` (KW bits): KW = ceil(K / simd), valid from the cycle after setup.
    - ``kw_pen`` (KW bits): KW - 2 (wraps when KW = 1), from the cycle after setup.
    - ``kw_one`` (1): KW == 1, from the cycle after setup.
    - ``kmask`` (simd): ones below K mod simd (all ones if 0), from the cycle after setup (the
      first load beat's write) to the next command beat.
    - ``is_and`` (1): the job is an AND-mode matmul, from the cycle after setup.
    """
    kwb = kw_bits(cfg)
    return wiring.Signature({
        "job": Out(cmd_layout(cfg)), "setup": Out(1), "kwords": Out(kwb), "kw_pen": Out(kwb),
        "kw_one": Out(1), "kmask": Out(cfg.simd), "is_and": Out(1)})


def ahead_signature() -> wiring.Signature:
    """Job control -> loader, with two weight buffers (``cfg.w_buffers`` = 2): how a load
    relates to the job that runs.

    - ``ahead`` (1): high with the loader's setup (``load.setup``) of a job taken while another
      runs: the loader loads its W only, into the other weight buffer, and waits.
    - ``run`` (1): high in the setup cycle of the run (``ctl.setup``) of a job taken ahead: the
      loader goes on to its A rows (at once if its W is in, else after it).
    """
    return wiring.Signature({"ahead": Out(1), "run": Out(1)})


def write_signature(cfg: ArrayConfig) -> wiring.Signature:
    """Loader -> operand banks: one registered write per cycle.

    - ``addr`` (bank address bits): the word address, the same in every bank written.
    - ``data`` (G x simd): the load beat's G row slots, slot j in bits [j*simd, (j+1)*simd).
    - ``a_en`` (R), ``w_en`` (C): write enable of each activation / weight bank (bank i takes
      slot i mod G).
    """
    depth = max(cfg.a_bank_depth, cfg.w_bank_depth)
    return wiring.Signature({"addr": Out(range(depth + 1)),
                             "data": Out(cfg.simd * cfg.load_rows_eff),
                             "a_en": Out(cfg.rows), "w_en": Out(cfg.cols)})


def read_signature(cfg: ArrayConfig) -> wiring.Signature:
    """Tile reader -> operand banks: the registered read address of the activation banks
    (``a_addr``) and of the weight banks (``w_addr``), the same in every bank."""
    return wiring.Signature({"a_addr": Out(range(cfg.a_bank_depth + 1)),
                             "w_addr": Out(range(cfg.w_bank_depth + 1))})


def progress_signature(cfg: ArrayConfig) -> wiring.Signature:
    """Loader -> tile reader, job control: how far the operands of the job are loaded.

    - ``w_done`` (1): pulse with the last load beat of W (the tile reader starts).
    - ``row_pulse`` (1): registered pulse, a tile row's A rows are loaded (only when tile rows
      start as loaded: N > (R/G - 1) * C).
    - ``all_loaded`` (1): registered, every A row is loaded.
    - ``ml_beats`` (beats bits), ``ml_lmask`` (D): result beats of the last tile row's tiles
      and the row slots their last beat fills, set with the last A beat.
    - ``n_l`` (columns bits): columns of the last tile column, set with the last W beat.
    - ``rows_ready`` (tile-row count bits; two activation buffers only, ``cfg.a_buffers`` = 2):
      tile rows of a job taken ahead whose A rows were loaded before it ran (their row pulses
      kept back), read by the tile reader in the job's setup cycle.
    """
    B = cfg.tile_beats
    return wiring.Signature({"w_done": Out(1), "row_pulse": Out(1), "all_loaded": Out(1),
                             "ml_beats": Out(range(B + 1)), "ml_lmask": Out(cfg.drain_rows_eff),
                             "n_l": Out(range(cfg.cols + 1)),
                             **({"rows_ready": Out(range(cfg.tile_rows_max + 1))}
                                if cfg.a_buffers == 2 else {})})


def tile_layout(cfg: ArrayConfig) -> data.StructLayout:
    """What a tile's drain needs, sent at the tile's last read: its result beats, the row slots
    of its last beat, its valid columns, whether it is the job's last tile, its hold bank."""
    return data.StructLayout({"beats": range(cfg.tile_beats + 1), "lmask": cfg.drain_rows_eff,
                              "n": range(cfg.cols + 1), "last": 1,
                              "bank": ceil_log2(cfg.hold_banks)})


def tile_signature(cfg: ArrayConfig) -> stream.Signature:
    """Tile reader -> drain control: one :func:`tile_layout` beat per tile, at its last read
    (always ready: the reader's spacing rules keep the drains apart)."""
    return stream.Signature(tile_layout(cfg), always_ready=True)


def drain_signature(cfg: ArrayConfig) -> wiring.Signature:
    """Drain control -> result path, tile reader, job control.

    - ``shift`` (1): a drain cycle: the array's hold registers of ``bank`` move D rows north
      and the result path takes its top rows.
    - ``bank`` (hold-bank bits): the draining hold bank.
    - ``end`` (1): this shift is the drain's last.
    - ``n`` (columns bits): the draining tile's valid columns.
    - ``lmask`` (D): the row slots its last beat fills.
    - ``last`` (1): the draining tile is the job's last.
    - ``in_flight`` (1): a tile has ended its reads and its drain has not started.
    """
    return wiring.Signature({"shift": Out(1), "bank": Out(ceil_log2(cfg.hold_banks)),
                             "end": Out(1), "n": Out(range(cfg.cols + 1)),
                             "lmask": Out(cfg.drain_rows_eff), "last": Out(1),
                             "in_flight": Out(1)})


def status_signature() -> wiring.Signature:
    """Tile reader -> job control: ``done`` (1), a registered pulse in the cycle after the job's
    last tile read."""
    return wiring.Signature({"done": Out(1)})


def occupancy_signature(cfg: ArrayConfig) -> wiring.Signature:
    """Result path -> tile reader: ``occupied``, the registered count of the output FIFO's
    entries plus the results staged in front of it (what the tile reader's credit reads)."""
    from .parts.result_path import ResultPath

    return wiring.Signature({"occupied": Out(range(cfg.out_fifo_depth + ResultPath.REGS + 1))})


class CoreStreams(wiring.Component):
    """What both matmul cores (:class:`hw.rtl.core.BinaryCore`,
    :class:`hw.rtl.composed_core.ComposedCore`) take: a config, an optional deliberate fault
    (one of the class's ``KNOWN_FAULTS``), ``with_pool``, and three streams: ``cmd`` (in,
    :func:`hw.rtl.formats.cmd_layout`), ``data`` (in, ``cfg.data_width`` bits), ``out`` (out,
    :func:`hw.rtl.formats.out_layout`)."""

    KNOWN_FAULTS: tuple[str, ...] = ()

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None, with_pool: bool = True):
        if not isinstance(cfg, ArrayConfig):
            self._MustUse__silence = True
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        if fault is not None and fault not in self.KNOWN_FAULTS:
            self._MustUse__silence = True
            raise ValueError(f"unknown fault {fault!r}; known: {self.KNOWN_FAULTS}")
        self._cfg, self._fault, self._with_pool = cfg, fault, with_pool
        super().__init__({
            "cmd": In(stream.Signature(cmd_layout(cfg))),
            "data": In(stream.Signature(cfg.data_width)),
            "out": Out(stream.Signature(out_layout(cfg))),
        })

    @property
    def config(self) -> ArrayConfig:
        return self._cfg


__all__ = ["CoreStreams", "kw_bits", "job_signature", "ahead_signature", "write_signature",
           "read_signature", "progress_signature", "tile_layout", "tile_signature", "drain_signature",
           "status_signature", "occupancy_signature"]
