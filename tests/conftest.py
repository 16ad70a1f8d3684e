"""Shared fixtures: where the (optional) ../shared/reference data lives; the YoWASP cache warm-up;
the tests CI leaves to `make test-all`."""

import os
import sys
from pathlib import Path

import pytest

from hw.synth.yowasp_cache import warm_yowasp_cache

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("BINARYVIT_REFERENCE", REPO.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference (official BinaryViT key list, config, official_small checkpoint);
    tests that need it skip when it is absent (users clone only the project; CI has it)."""
    if not (REFERENCE / "binaryvit_official_config.json").is_file():
        pytest.skip(f"reference data not found at {REFERENCE} (set BINARYVIT_REFERENCE to the "
                    "shared/reference directory to run this test)")
    return REFERENCE


def pytest_configure(config):
    """One intra-op thread per test process: pytest-xdist already uses both cores, and torch's
    thread pool on an oversubscribed machine is tens of times slower than one thread."""
    import torch

    torch.set_num_threads(1)


def pytest_sessionstart(session):
    """Fill the YoWASP cache before any test (or xdist worker) starts. Runs in the main process
    only: pytest-xdist starts its workers after this hook, so they find the cache warm."""
    if hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    log = reporter.write_line if reporter is not None else (lambda m: print(m, file=sys.stderr))
    warm_yowasp_cache(log=log)


#: Tests that CI (`make test`) leaves to `make test-all`, marked `slow` at collection. Each is a
#: further configuration, fault or scenario of a mechanism that a test CI keeps already runs on
#: the RTL (the reason names it); together they are about half of the suite's simulation time.
CI_LEAVES = {
    **{f"tests/sim/test_network.py::{t}": "CI runs the whole network on the RTL once (equal to "
       "the integer and cost models); the xor fault is caught in tests/sim/test_faults.py"
       for t in ("test_network_on_rtl_with_a_pool_core_of_its_own",
                 "test_network_with_a_broken_array_fails_and_names_the_damage")},
    **{f"tests/sim/test_small_k.py::test_small_k_tiles_cycle_exact_and_bit_exact_under_stalls"
       f"[{c}]": "CI simulates 2x2d2; every shape's small-K tile cycles are checked in the "
       "Amaranth simulator (tests/hw/rtl/test_core_latency.py)"
       for c in ("2x2d1", "4x4d1", "4x4d2", "4x4d4", "3x5d1", "3x5d2", "3x5d3", "4x4d2h3",
                 "3x5d1h4")},
    **{f"tests/sim/test_cycles.py::test_cycle_model_matches_rtl{t}": "CI checks the cycle "
       "model on the default config, one with more hold banks and one with wide load beats"
       for t in ("[r2c3s16]", "[r3c1s32]", "[r1c4s8]", "_with_more_hold_banks[3x5d3h3]",
                 "_with_more_hold_banks[4x4d2h4]", "_with_more_hold_banks[3x5d1h4]",
                 "_with_more_hold_banks[8x4d8h10]", "_with_more_hold_banks[8x8d8h16]",
                 "_with_wide_load_beats[4x4g2d2h2]", "_with_wide_load_beats[4x4g4d4h3]",
                 "_with_wide_load_beats[6x4g2d3h4]")},
    **{f"tests/hw/test_verilog.py::test_structural_option_configs_generate_their_records_verilog"
       f"[{r}]": "CI regenerates two records' Verilog (iCE40 1x1x16, the default core built "
       "from parts; the array alone), and test_rtl_revision the single-module core's"
       for r in ("pool_port_ecp5.jsonl:8x8x64:top", "seeds_ecp5.jsonl:4x4x16:top",
                 "pool_port_ecp5.jsonl:4x4x16:top", "synth_ecp5.jsonl:2x2x32:top")},
    "tests/hw/test_verilog.py::test_pool_port_top_has_a_second_set_of_stream_ports":
        "CI simulates the pool-port top's two cores (tests/sim/test_pool_port.py)",
    **{f"tests/sim/test_faults.py::{t}": "CI catches xor, kpad, hold_swap and fifo_overfill "
       "and passes the good RTL with and without the stall faults' stalls"
       for t in ("test_broken_variant_is_caught[skew]", "test_broken_variant_is_caught[acc_short]",
                 "test_broken_variant_is_caught[queue_drop]",
                 "test_broken_variant_is_caught[fifo_early_take]",
                 "test_broken_variant_is_caught[early_rows]",
                 "test_broken_variant_is_caught[line_off]",
                 "test_hold_swap_is_caught_with_three_hold_banks",
                 "test_load_slot_rotation_is_caught_with_two_rows_per_load_beat")},
    "tests/sim/test_pool_lanes.py::test_line_off_fault_is_caught_with_more_lanes":
        "CI simulates more pool lanes than columns (L6_C3)",
    "tests/sim/test_pool_lanes.py::test_more_pool_lanes_than_columns_cycle_exact_and_bit_exact"
    "[L5_C3]": "CI simulates L6_C3",
    "tests/sim/test_regress_cluster.py::test_killing_a_worker_mid_regression_loses_no_job":
        "CI runs the regression's local scheduler and its failure path (tests/sim/test_regress.py)",
    "tests/sim/test_regress.py::test_found_by_the_options_regression_a_pool_job_under_stalls_"
    "loses_no_output": "CI runs pool jobs under stalls in tests/sim/test_stalls.py",
    "tests/hw/test_synth_rerun.py::test_rerun_measures_each_record_again_and_resumes":
        "CI runs yosys and nextpnr in tests/hw/test_synth.py and test_synth_progress.py",
    "tests/hw/test_synth_reuse.py::test_cli_reuse_skips_the_tools_only_for_identical_verilog":
        "CI checks the reuse rule without the tools (test_only_identical_inputs_are_reused)",
    "tests/hw/test_synth.py::test_exact_ff_count_and_lut_range[xc7a100t]":
        "CI synthesises the same checks for ECP5 and iCE40",
    "tests/hw/test_bench.py::test_quick_bench_prints_and_writes_its_figures":
        "a benchmark: CI checks its bad inputs",
    **{f"tests/sim/test_composed_core_sim.py::{t}": "CI runs the composed core's Verilog on "
       "r2c3s16 and catches early_rows; the lockstep test (tests/hw/rtl/test_composed_core.py) "
       "covers the other configs, stalls and faults in every cycle"
       for t in ("test_composed_core_is_exact_and_takes_the_modelled_cycles[r3c2s16_h3_d1]",
                 "test_composed_core_is_exact_and_takes_the_modelled_cycles[r4c2s16_g2_l4]",
                 "test_composed_core_is_exact_under_stalls_and_freezes",
                 "test_composed_core_beside_a_pool_core_is_exact",
                 "test_a_fault_in_a_part_of_the_composed_core_is_caught[hold_swap]",
                 "test_a_fault_in_a_part_of_the_composed_core_is_caught[fifo_overfill]",
                 "test_load_slot_rotation_in_the_operand_banks_is_caught")},
    "tests/sim/test_checks.py::test_kpad_fault_caught_only_with_random_padding":
        "CI catches kpad in tests/sim/test_faults.py",
    **{f"tests/sim/test_pool_port.py::{t}": "CI runs both cores at once, and each job by job"
       for t in ("test_pool_core_extra_register_is_caught",
                 "test_both_cores_at_once_under_stalls")},
    **{f"tests/sim/test_stalls.py::test_stalls_bit_exact[{p}]": "CI runs the stall mix with "
       "freezes (0.2-0.3-0.01-80)" for p in ("0.3-0.5-0-0", "0.0-0.9-0-0")},
    **{f"tests/sim/test_coverage.py::{t}": "CI checks the coverage bins back to back, with "
       "resets in every phase and from `sim all`"
       for t in ("test_backpressure_bins_and_resets_under_stalls",
                 "test_broken_design_still_fails_back_to_back_with_resets")},
    **{f"tests/sim/test_bad_inputs.py::test_killed_sim_array_takes_its_simulator_along[{s}]":
       "CI kills one run with SIGTERM" for s in ("SIGINT", "SIGKILL")},
    **{f"tests/hw/rtl/test_core_latency.py::test_{t}": "CI checks the other shapes of the "
       "same rule in the Amaranth simulator"
       for t in ("small_k_tiles_take_the_modelled_cycles[2-2-2]",
                 "small_k_tiles_take_the_modelled_cycles[4-4-1]",
                 "small_k_tiles_take_the_modelled_cycles[4-4-4]",
                 "small_k_tiles_take_the_modelled_cycles[3-5-2]",
                 "small_k_tiles_take_the_modelled_cycles[3-5-3]",
                 "wide_load_beats_take_the_modelled_cycles[4-4-4]")},
    **{f"tests/model/test_bad_inputs_model.py::test_row9_signal_leaves_no_temporary_and_keeps_"
       f"the_old_output[{p}]": "CI sends SIGTERM to a new and SIGINT to a replacing export"
       for p in ("new-SIGINT", "replacing-SIGTERM")},
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Marks the tests of :data:`CI_LEAVES` slow (before `-m` deselects). On a full run (no
    paths given) an entry that names no collected test is an error, so a renamed test cannot
    drop out of the list unnoticed."""
    seen = set()
    for item in items:
        if item.nodeid in CI_LEAVES:
            item.add_marker(pytest.mark.slow)
            seen.add(item.nodeid)
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        stale = sorted(set(CI_LEAVES) - seen)
        if stale:
            raise pytest.UsageError("tests/conftest.py CI_LEAVES names tests that do not exist: "
                                    + ", ".join(stale))
