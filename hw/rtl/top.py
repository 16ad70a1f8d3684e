"""The Verilog top: the core's streams renamed to AXI4-Stream ports (tdata/tvalid/tready/tlast)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig
from .formats import STREAM_PORTS, cmd_layout, cmd_width, cores_of
from .pool import POOL_FAULTS
from .pool_core import POOL_CORE_FAULTS, PoolCore


def core_class(core_parts: int):
    """The matmul core of a config: :class:`hw.rtl.core.BinaryCore`, or with ``core_parts`` = 1
    :class:`hw.rtl.composed_core.ComposedCore`."""
    if core_parts:
        from .composed_core import ComposedCore
        return ComposedCore
    from .core import BinaryCore
    return BinaryCore


#: deliberate faults of a mechanism that only some configs build, each with the option that
#: builds it and whether a config has it (without it the fault's variant is the correct design)
FAULT_NEEDS = {
    "own_late": ("--loader-regs 1", lambda cfg: cfg.loader_regs >= 1),
    "split_late": ("--loader-regs 2", lambda cfg: cfg.loader_regs == 2),
    "idle_late": ("--ctl-regs 1", lambda cfg: cfg.ctl_regs >= 1),
    "and_copy_stuck": ("--ctl-regs 2", lambda cfg: cfg.ctl_regs == 2),
    "keep_clears_n_l": ("--keep-weights 1", lambda cfg: cfg.keep_weights == 1),
    "w_buffer_swap": ("--w-buffers 2", lambda cfg: cfg.w_buffers == 2),
    "a_buffer_swap": ("--a-buffers 2", lambda cfg: cfg.a_buffers == 2),
    "pool_core_extra_reg": ("--pool-port 1", lambda cfg: cfg.pool_port == 1),
    "load_slot_rotated": ("--load-rows 2 or more", lambda cfg: cfg.load_rows_eff > 1),
}


def fault_problem(cfg: ArrayConfig, fault: str | None) -> str | None:
    """Why ``fault`` cannot be built into ``cfg`` (unknown to its core, or a fault of a
    mechanism ``cfg`` does not build), as one line naming the fix, for the caller to put after
    the fault's name; None when it can (or no fault)."""
    if fault is None:
        return None
    known = known_faults(cfg.core_parts)
    if fault not in known:
        return f"not a known fault; known: {', '.join(known)}"
    if fault in FAULT_NEEDS and not FAULT_NEEDS[fault][1](cfg):
        return (f"breaks a mechanism this config does not build, so its variant would be the "
                f"correct design; add {FAULT_NEEDS[fault][0]} or pick another fault")
    return None


def known_faults(core_parts: int) -> tuple[str, ...]:
    """Every deliberate fault a top can be built with: its core's, and the pool core's (with
    ``pool_port``)."""
    return tuple(dict.fromkeys(core_class(core_parts).KNOWN_FAULTS + POOL_CORE_FAULTS))


class AxiTop(wiring.Component):
    """:class:`hw.rtl.core.BinaryCore` (or, with ``cfg.core_parts`` = 1, the
    :class:`hw.rtl.composed_core.ComposedCore`) with AXI4-Stream port names, for vendor block
    designs.

    Ports (besides clk, rst): ``s_axis_cmd_*`` (command, one beat per job), ``s_axis_data_*``
    (operand words), ``m_axis_res_*`` (results, ``tlast`` on the final beat of each job).
    With ``cfg.pool_port`` = 1 these go to a matmul-only core and a second set,
    ``s_axis_pool_cmd_*``, ``s_axis_pool_data_*``, ``m_axis_pool_res_*`` (same widths and beat
    formats), to the pool core (:class:`hw.rtl.pool_core.PoolCore`); the two share only the
    clock and reset. The command ``tdata`` is the command layout zero-padded to whole bytes;
    the pad bits are ignored. See hw/README.md for the port map.
    """

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None):
        self._cfg, self._fault = cfg, fault
        ports = {}
        for core in cores_of(cfg):
            cmd, dat, res = STREAM_PORTS[core]
            ports.update({
                f"{cmd}_tdata": In(cmd_width(cfg)),
                f"{cmd}_tvalid": In(1),
                f"{cmd}_tready": Out(1),
                f"{dat}_tdata": In(cfg.data_width),
                f"{dat}_tvalid": In(1),
                f"{dat}_tready": Out(1),
                f"{res}_tdata": Out(cfg.out_width),
                f"{res}_tvalid": Out(1),
                f"{res}_tready": In(1),
                f"{res}_tlast": Out(1),
            })
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg, fault = self._cfg, self._fault
        BinaryCore = core_class(cfg.core_parts)  # noqa: N806 (a class)
        if cfg.pool_port:
            pool_fault = fault if fault in POOL_FAULTS + POOL_CORE_FAULTS else None
            cores = {"core": BinaryCore(cfg, fault=None if pool_fault else fault,
                                        with_pool=False),
                     "pool_core": PoolCore(cfg, fault=pool_fault)}
        else:
            cores = {"core": BinaryCore(cfg, fault=fault)}
        for name, core in cores.items():
            m.submodules[name] = core
            cmd, dat, res = STREAM_PORTS[name]
            m.d.comb += [
                core.cmd.payload.eq(getattr(self, f"{cmd}_tdata")[:cmd_layout(cfg).size]),
                core.cmd.valid.eq(getattr(self, f"{cmd}_tvalid")),
                getattr(self, f"{cmd}_tready").eq(core.cmd.ready),
                core.data.payload.eq(getattr(self, f"{dat}_tdata")),
                core.data.valid.eq(getattr(self, f"{dat}_tvalid")),
                getattr(self, f"{dat}_tready").eq(core.data.ready),
                getattr(self, f"{res}_tdata").eq(core.out.payload.data),
                getattr(self, f"{res}_tlast").eq(core.out.payload.last),
                getattr(self, f"{res}_tvalid").eq(core.out.valid),
                core.out.ready.eq(getattr(self, f"{res}_tready")),
            ]
        return m
