"""The figures the READMEs quote about `make sim` and the default config match the code: job
counts (golden ops of the Makefile's export, edge-shape jobs), the stall settings, and the
latencies and widths that `python -m hw config` prints."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hw.config import DEFAULT
from hw.rtl.formats import cmd_width
from sim.__main__ import STALLS
from sim.suite import edge_suite

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
HW_README = (REPO / "hw" / "README.md").read_text()


def _all(pattern: str, text: str) -> list[str]:
    """Every match of ``pattern`` (a space in it matches any run of whitespace, line breaks
    included); at least one."""
    found = re.findall(pattern.replace(" ", r"\s+"), text)
    assert found, f"the docs no longer contain {pattern!r}; update this test with them"
    return found


def golden_op_count() -> int:
    """Ops that `make export` writes: the committed checkpoint traced on as many images as the
    Makefile's export line asks for (the count depends on the architecture, not the data)."""
    import torch

    from model.checkpoint import load_checkpoint
    from model.export import trace_model

    line = next(l for l in (REPO / "Makefile").read_text().splitlines()
                if "-m model export" in l and "--out golden" in l)
    images = int(re.search(r"--images (\d+)", line).group(1))
    ckpt = re.search(r"--checkpoint (\S+)", line).group(1)
    model = load_checkpoint(REPO / ckpt)
    c = model.config
    _, ops = trace_model(model, torch.zeros(images, c.in_channels, c.image_size, c.image_size))
    return len(ops)


def test_make_sim_counts():
    golden, edge = golden_op_count(), len(edge_suite(DEFAULT))
    for g, e in _all(r"(\d+) golden ops \+ (\d+) edge-shape jobs", README):
        assert (int(g), int(e)) == (golden, edge)
    for n in _all(r"(\d+) passed, 0 failed", README):
        assert int(n) == golden + edge


def test_network_run_counts():
    """The README's tensor and job counts of `sim network` are those of the integer model."""
    from model.checkpoint import load_checkpoint
    from model.data import digits_split
    from model.integer import drive, fold_model, network_steps, quantize_images
    from model.integer.calibrate import digits_calibration_images

    int_model = fold_model(load_checkpoint(REPO / "model" / "checkpoints" / "digits"),
                           digits_calibration_images())
    image = quantize_images(int_model, digits_split()[2][:1])
    ops = []
    tensors = len(drive(network_steps(int_model, image),
                        on_op=lambda op, _: ops.append(op)).tensors)
    jobs = len(ops)
    for n in _all(r"every intermediate tensor \((\d+) per image\)", README) + \
            _all(r"all (\d+) intermediate tensors", README):
        assert int(n) == tensors
    for n in _all(r"(\d+) jobs per image", README):
        assert int(n) == jobs


def test_make_sim_stall_settings():
    for pattern, key in ((r"tvalid low before a beat with probability ([\d.]+)", "idle_prob"),
                         (r"tready low with probability ([\d.]+)", "stall_prob"),
                         (r"freezes of up to (\d+) cycles", "freeze_max"),
                         (r"starting with probability ([\d.]+) per cycle", "freeze_prob")):
        for v in _all(pattern, README):
            assert float(v) == STALLS[key], (pattern, v, STALLS)


def test_cycle_test_configs_and_edge_shapes():
    spec = importlib.util.spec_from_file_location("_cycles_tests",
                                                  REPO / "tests" / "sim" / "test_cycles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sizes = {len(edge_suite(cfg)) for cfg in mod.CONFIGS.values()}
    for n_cfg, n_edge in _all(r"(\d+) array configs × (\d+) edge shapes", README):
        assert int(n_cfg) == len(mod.CONFIGS) and {int(n_edge)} == sizes


@pytest.fixture(scope="module")
def hw_config():
    r = subprocess.run([sys.executable, "-m", "hw", "config"], capture_output=True, text=True,
                       cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["derived"]


#: (pattern, `python -m hw config` key, offset): quoted figures of hw/README.md
HW_FIGURES = [
    (r"tile_flush (\d+) cycles", "tile_flush", 0),
    (r"PE latency (\d+)", "pe_latency", 0),
    (r"matmul read latency (\d+)", "mm_read_latency", 0),
    # the memory part of mm_read_latency, after its one address register
    (r"\(address register \+ memory read latency (\d+)\)", "mm_read_latency", -1),
    (r"pool latency (\d+)", "pool_latency", 0),
    (r"result latency (\d+)", "result_latency", 0),
    (r"output lane (\d+) bits", "lane_width", 0),
    (r"result tdata (\d+) bits", "out_width", 0),
    (r"output FIFO (\d+) entries", "out_fifo_depth", 0),
    (r"mm_read_latency = 1 \+ PipelinedMemory\.read_latency\(max bank depth\) \((\d+) by default\)",
     "mm_read_latency", 0),
    (r"\+ 1 \(output register\)\s+\((\d+)\)", "pool_latency", 0),
    (r"result_latency is (\d+)", "result_latency", 0),
]


@pytest.mark.parametrize("pattern, key, delta", HW_FIGURES)
def test_hw_readme_quotes_hw_config(hw_config, pattern, key, delta):
    want = hw_config[key] + delta
    for v in _all(pattern, HW_README):
        assert int(v) == want, (pattern, v, want)


def test_hw_readme_command_width():
    for v in _all(r"command tdata (\d+)", HW_README):
        assert int(v) == cmd_width(DEFAULT)
