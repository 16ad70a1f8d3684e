"""The Verilog top: the core's streams renamed to AXI4-Stream ports (tdata/tvalid/tready/tlast)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig
from .core import BinaryCore
from .formats import cmd_layout, cmd_width


class AxiTop(wiring.Component):
    """:class:`hw.rtl.core.BinaryCore` with AXI4-Stream port names, for vendor block designs.

    Ports (besides clk, rst): ``s_axis_cmd_*`` (command, one beat per job), ``s_axis_data_*``
    (operand words), ``m_axis_res_*`` (results, ``tlast`` on the final beat of each job).
    The command ``tdata`` is the command layout zero-padded to whole bytes; the pad bits are
    ignored. See hw/README.md for the port map.
    """

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None):
        self._cfg, self._fault = cfg, fault
        super().__init__({
            "s_axis_cmd_tdata": In(cmd_width(cfg)),
            "s_axis_cmd_tvalid": In(1),
            "s_axis_cmd_tready": Out(1),
            "s_axis_data_tdata": In(cfg.data_width),
            "s_axis_data_tvalid": In(1),
            "s_axis_data_tready": Out(1),
            "m_axis_res_tdata": Out(cfg.out_width),
            "m_axis_res_tvalid": Out(1),
            "m_axis_res_tready": In(1),
            "m_axis_res_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = BinaryCore(self._cfg, fault=self._fault)
        m.d.comb += [
            core.cmd.payload.eq(self.s_axis_cmd_tdata[:cmd_layout(self._cfg).size]),
            core.cmd.valid.eq(self.s_axis_cmd_tvalid),
            self.s_axis_cmd_tready.eq(core.cmd.ready),
            core.data.payload.eq(self.s_axis_data_tdata),
            core.data.valid.eq(self.s_axis_data_tvalid),
            self.s_axis_data_tready.eq(core.data.ready),
            self.m_axis_res_tdata.eq(core.out.payload.data),
            self.m_axis_res_tlast.eq(core.out.payload.last),
            self.m_axis_res_tvalid.eq(core.out.valid),
            core.out.ready.eq(self.m_axis_res_tready),
        ]
        return m
