"""Verilog generation: files, AXI4-Stream port names, Verilator lint of the default config."""

import json
import re
import shutil
import subprocess

import pytest

from hw.config import DEFAULT, ArrayConfig
from hw.rtl.verilog import generate, write_verilog

AXI_PORTS = ["s_axis_cmd_tdata", "s_axis_cmd_tvalid", "s_axis_cmd_tready",
             "s_axis_data_tdata", "s_axis_data_tvalid", "s_axis_data_tready",
             "m_axis_res_tdata", "m_axis_res_tvalid", "m_axis_res_tready", "m_axis_res_tlast",
             "clk", "rst"]

#: Verilator warnings waived for the generated Verilog (hw/README.md explains each).
LINT_WAIVERS = ["-Wno-WIDTH", "-Wno-UNUSEDSIGNAL", "-Wno-DECLFILENAME", "-Wno-CASEINCOMPLETE"]


def test_write_verilog_files_and_ports(tmp_path):
    cfg = ArrayConfig(rows=2, cols=3, simd=16, max_k=40, max_m=8, max_n=8, pool_bits=8,
                      pool_max_dim=8, pool_max_planes=4, pool_row_depth=64)
    top = write_verilog(cfg, tmp_path)
    assert top == tmp_path / "bvit_top.v"
    assert (tmp_path / "files.f").read_text().split() == ["bvit_top.v"]
    text = top.read_text()
    header = re.search(r"module bvit_top\((.*?)\);", text, re.S).group(1)
    assert sorted(p.strip() for p in header.split(",")) == sorted(AXI_PORTS)
    assert re.search(rf"output \[{cfg.out_width - 1}:0\] m_axis_res_tdata;", text)


def test_write_verilog_rejects_bad_config(tmp_path):
    with pytest.raises(TypeError):
        write_verilog({"rows": 4}, tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
def test_default_config_passes_verilator_lint(tmp_path):
    top = write_verilog(DEFAULT, tmp_path)
    r = subprocess.run(["verilator", "--lint-only", "-Wall", *LINT_WAIVERS, str(top),
                        "--top-module", "bvit_top"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def test_only_operand_memory_init_is_stripped():
    from hw.config import ceil_div, mem_piece_words, read_write_slice_bits
    from hw.rtl.verilog import generate, strip_operand_memory_init

    cfg = ArrayConfig(rows=2, cols=3, simd=16, max_k=40, max_m=8, max_n=8, pool_bits=8,
                      pool_max_dim=8, pool_max_planes=4, pool_row_depth=64)
    text = generate(cfg)
    depths = [cfg.a_bank_depth] * 2 + [cfg.w_bank_depth] * 3
    pieces = [mem_piece_words(d, cfg.mem_piece_depth) for d in depths]
    slices = [ceil_div(d, p) * ceil_div(cfg.simd, read_write_slice_bits(p))
              for d, p in zip(depths, pieces)]
    assert not re.search(r"piece\d+_slice\d+\[\d+\] =", text)          # no per-word init left
    assert len(re.findall(r"reg \[\d+:0\] piece\d+_slice\d+ \[", text)) == sum(slices)
    # the FIFO's and the pool unit's open-row bank slices' (small) stay
    bank_slices = ceil_div(cfg.pool_lanes_eff * cfg.pool_sum_width,
                           read_write_slice_bits(cfg.pool_row_depth))
    assert text.count("initial begin") == 1 + cfg.pool_open_rows * bank_slices
    demo = ("  initial begin\n    piece0_slice3[0] = 2'h0;\n    piece0_slice3[1] = 2'h0;\n  end\n"
            "  initial begin\n    piece1_slice0[0] = 2'h1;\n  end\n"
            "  initial begin\n    storage[0] = 8'h00;\n  end\n")
    out, n = strip_operand_memory_init(demo)
    assert n == 1 and "piece0_slice3" not in out and "piece1_slice0[0] = 2'h1" in out
    assert "storage[0]" in out


def _records():
    """(file, record) of every committed synthesis record."""
    import json

    from hw.paths import SYNTH_DATA_DIR

    for path in sorted(SYNTH_DATA_DIR.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield path.name, json.loads(line)


def test_rtl_revision_is_the_committed_one():
    """Each committed synthesis record carries the revision of its core (the tiny reference
    config's Verilog hash, one per core): the RTL still generates the netlist it measured."""
    from hw.synth.flow import rtl_revision

    stale = [f"{name}: {rec['command']}" for name, rec in _records()
             if rec["rtl_revision"] != rtl_revision(ArrayConfig.from_dict(rec["config"]).core_parts)]
    assert not stale, f"{len(stale)} record(s) of an older RTL revision, e.g. {stale[:2]}"
    assert rtl_revision(0) != rtl_revision(1)


#: config fields that change the RTL's structure, not only a width or a depth
STRUCTURAL = ("drain_rows", "hold_banks", "load_rows", "pool_lanes", "pool_port", "core_parts")


def _representatives():
    """The smallest record (R x C x SIMD) with each structural option away from its default,
    the smallest array-alone record and the smallest record of all: the Verilog that the tiny
    reference config of ``rtl_revision`` does not cover, at the least generation time."""
    recs = list(_records())
    size = lambda item: (item[1]["rows"] * item[1]["cols"] * item[1]["simd"], item[1]["command"])
    picks = [min(recs, key=size), min((i for i in recs if i[1].get("component") == "array"),
                                      key=size)]
    for field in STRUCTURAL:
        away = [i for i in recs
                if getattr(ArrayConfig.from_dict(i[1]["config"]), field) != getattr(DEFAULT, field)]
        if away:
            picks.append(min(away, key=size))
    seen = set()
    return [i for i in picks if not (i[1]["command"] in seen or seen.add(i[1]["command"]))]


def _regenerated_digest(rec, tmp_path) -> str:
    """sha256 (16 hex) of the Verilog this RTL generates for ``rec``'s config and component,
    as :func:`hw.synth.flow.synth_config` computes it."""
    import hashlib

    from hw.synth.flow import _array_verilog

    cfg = ArrayConfig.from_dict(rec["config"])
    if rec.get("component", "top") == "array":
        sources = [_array_verilog(cfg, tmp_path)]
    else:
        write_verilog(cfg, tmp_path)
        sources = [tmp_path / ln for ln in (tmp_path / "files.f").read_text().split()]
    return hashlib.sha256(b"".join(s.read_bytes() for s in sources)).hexdigest()[:16]


def _record_id(item) -> str:
    name, rec = item
    return f"{name}:{rec['rows']}x{rec['cols']}x{rec['simd']}:{rec.get('component', 'top')}"


@pytest.mark.parametrize("name,rec", _representatives(), ids=map(_record_id, _representatives()))
def test_structural_option_configs_generate_their_records_verilog(tmp_path, name, rec):
    """One record per structural option (and the array alone) regenerates the exact Verilog it
    measured: an RTL change that leaves the tiny reference config alone but changes an option's
    logic fails here, not only in the slow test of every record."""
    assert _regenerated_digest(rec, tmp_path) == rec["verilog_sha256"], f"{name}: {rec['command']}"


@pytest.mark.slow
@pytest.mark.parametrize("name,rec", list(_records()), ids=map(_record_id, _records()))
def test_committed_configs_generate_byte_identical_verilog(tmp_path, name, rec):
    """Every swept config regenerates the exact Verilog its synthesis record measured
    (``verilog_sha256``, :func:`hw.synth.flow.synth_config`)."""
    assert _regenerated_digest(rec, tmp_path) == rec["verilog_sha256"], f"{name}: {rec['command']}"


@pytest.mark.parametrize("core_parts", [1, 0])
def test_block_ram_address_copies_are_kept_apart(core_parts):
    """Every operand memory has one write address, one read address and one write-enable
    register per group of SLICES_PER_ADDRESS block-RAM slices, and every open-row bank of the
    pool unit one of each, and (the single-module core) every PE one AND-mode flag per popcount
    leaf, and (the core built from parts) every PE and every row a drain shift and bank copy,
    each always block marked (* keep *) so that Yosys does not merge the copies back into one
    register; nothing else is marked. The core built from parts (the default) has no AND-mode
    flags: its PEs count XNOR only."""
    from hw.config import ceil_div
    from hw.rtl.memory import PipelinedMemory
    from hw.rtl.verilog import generate, keep_replicas

    cfg = ArrayConfig(core_parts=core_parts)
    text = generate(cfg)
    groups = 0
    for depth, count in ((cfg.a_bank_depth, cfg.rows), (cfg.w_bank_depth, cfg.cols)):
        mem = PipelinedMemory(cfg.simd, depth, cfg.mem_piece_depth)
        mem._MustUse__silence = True          # only its geometry is looked at
        groups += count * mem.pieces * ceil_div(mem.slices, PipelinedMemory.SLICES_PER_ADDRESS)
    assert groups == 8 * 4 and cfg.pool_open_rows == 5
    # 16 PEs and 4 row-popcount PEs, 32 / 8 leaves each; none in the core built from parts
    modes = 0 if core_parts else (4 * 4 + 4) * 4
    drain = 2 * (4 * 4 + 4) if core_parts else 0          # shift and bank per PE and per row
    heads = cfg.pool_lanes_eff if core_parts else 0     # the pool queue head's copy per lane
    assert text.count("(* keep = 32'd1 *)") == 3 * groups + 3 * 5 + modes + drain + heads
    marked = re.findall(r"\(\* keep = 32'd1 \*\)\n  always @\(posedge clk\)\n    (\S+) <=", text)
    assert len(marked) == 3 * groups + 3 * 5 + modes + drain + heads
    assert sorted(n for n in marked if "_copy" in n) == [f"head_need_copy{i}" for i in range(heads)]
    copies = r"pe_(shift|bank)__\d+__\d+|drain_row\d+_(shift|bank)"
    assert sum(bool(re.fullmatch(copies, n)) for n in marked) == drain
    assert sorted(n for n in marked if n.startswith("mode_g")) == sorted(
        f"mode_g{g}" for g in range(4) for _ in range(0 if core_parts else 20))
    assert sum(bool(re.fullmatch(r"piece\d+_g\d+_(waddr|raddr|we)", n)) for n in marked) == 96
    assert sorted(n for n in marked if n.startswith("bank")) == sorted(
        f"bank{b}_{s}" for b in range(5) for s in ("raddr", "waddr", "we"))
    demo = "  always @(posedge clk)\n    piece0_g1_raddr <= piece0_raddr;\n"
    assert keep_replicas(demo) == ("  (* keep = 32'd1 *)\n" + demo, 1)
    assert keep_replicas(demo.replace("_g1_", "_"))[1] == 0
    assert keep_replicas(demo.replace("piece0_g1_", "bank3_"))[1] == 1
    assert keep_replicas(demo.replace("piece0_g1_raddr", "mode_g2"))[1] == 1


def test_array_alone_keeps_the_mode_copies(tmp_path):
    """The array synthesized alone (`python -m hw synth --component array`) keeps every PE's
    AND-mode copies apart, as the whole design does: one per popcount leaf."""
    from hw.synth.flow import _array_verilog

    cfg = ArrayConfig(rows=2, cols=3, simd=32, core_parts=0)
    text = _array_verilog(cfg, tmp_path).read_text()
    assert text.count("(* keep = 32'd1 *)") == (2 * 3 + 2) * 4


def test_composed_core_keeps_a_drain_copy_per_pe():
    """The core built from parts drives each PE's hold banks from a shift and a bank register
    of its own (DrainControl's pe_shift / pe_bank), fed by a copy per row, each kept apart
    from the others."""
    cfg = ArrayConfig(rows=2, cols=3, simd=16, core_parts=1)
    text = generate(cfg)
    kept = r"\(\* keep = 32'd1 \*\)\n  always @\(posedge clk\)\n    \\?\S*"
    assert len(re.findall(kept + r"pe_(shift|bank)__\d+__\d+ <=", text)) == 2 * 2 * 3
    assert len(re.findall(kept + r"drain_row\d+_(shift|bank) <=", text)) == 2 * 2


def test_array_alone_is_the_array_of_its_core(tmp_path):
    """For the core built from parts the array synthesized alone is the one that core builds:
    XNOR-only PEs (no AND-mode copies) and a zero-count PE per column, no row-popcount PEs."""
    from hw.synth.flow import _array_verilog

    text = _array_verilog(ArrayConfig(rows=2, cols=3, simd=32, core_parts=1), tmp_path).read_text()
    assert "zeros_top" in text and "rowpop" not in text
    assert "mode_g" not in text


def test_pool_port_top_has_a_second_set_of_stream_ports(tmp_path):
    """pool_port = 1: the Verilog top and its sidecar have the pool core's three AXI4-Stream
    ports beside the matmul core's, with the same widths; the default top has none of them."""
    from hw.rtl.formats import STREAM_PORTS

    cfg = ArrayConfig(rows=2, cols=2, simd=16, pool_port=1)
    text = write_verilog(cfg, tmp_path / "pp").read_text()
    side = json.loads((tmp_path / "pp" / "bvit_top.json").read_text())["ports"]
    for cmd, dat, res in STREAM_PORTS.values():
        for port in (f"{cmd}_tdata", f"{dat}_tdata", f"{res}_tdata", f"{res}_tlast",
                     f"{cmd}_tready", f"{dat}_tvalid", f"{res}_tready"):
            assert re.search(rf"\b(input|output)\b[^;]*\b{port}\b", text), port
    pool_cmd, pool_data, pool_res = STREAM_PORTS["pool_core"]
    assert side[f"{pool_cmd}_tdata"] == side["s_axis_cmd_tdata"]
    assert side[f"{pool_data}_tdata"] == side["s_axis_data_tdata"] == cfg.data_width
    assert side[f"{pool_res}_tdata"] == side["m_axis_res_tdata"] == cfg.out_width
    default = write_verilog(ArrayConfig(rows=2, cols=2, simd=16), tmp_path / "d").read_text()
    assert "s_axis_pool" not in default
