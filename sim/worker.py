"""The child process of :mod:`sim.runner`: one cocotb build or one cocotb test run.

  python -m sim.worker SPEC.json

The runner starts this module in a new session (its own process group) with the environment
the simulator needs (``env=``), so the compiler and simulator processes it starts share its
group and the runner ends them all with one ``killpg`` when it exits, fails or is signalled.
Should the runner itself die without cleaning up (SIGKILL), the kernel sends this process
SIGTERM (``prctl(PR_SET_PDEATHSIG)``, Linux), and it kills its group, simulator included.

SPEC is a JSON object: ``action`` ("build" or "test"), ``simulator``, ``parent`` (the runner's
pid), ``build_dir``, ``log_file`` (the tool output; null: inherited), and for a build
``verilog`` (the top ``.v``) and ``build_args``; for a test ``test_dir``, ``results_xml`` and
optionally ``test_module`` (default ``sim.tb``; ``sim.tb_network`` runs a whole network).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGTERM when the parent (the runner) dies; exit at once if it already
    has. Not Linux: nothing (the runner still kills the group on its own exit and signals)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(128 + signal.SIGTERM)


def kill_own_group(signum, frame) -> None:
    """SIGTERM/SIGHUP: end this process group at once (this process, the compiler or
    simulator it started and anything they started)."""
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    if spec.get("parent"):
        die_with_parent(int(spec["parent"]))
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, kill_own_group)

    from cocotb_tools.runner import get_runner

    from hw.rtl.verilog import TOP_NAME

    runner = get_runner(spec["simulator"])
    log = spec.get("log_file")
    try:
        if spec["action"] == "build":
            runner.build(sources=[spec["verilog"]], hdl_toplevel=TOP_NAME,
                         build_dir=spec["build_dir"], timescale=("1ns", "1ps"),
                         build_args=spec["build_args"], log_file=log)
        else:
            runner.test(test_module=spec.get("test_module", "sim.tb"), hdl_toplevel=TOP_NAME,
                        hdl_toplevel_lang="verilog",
                        build_dir=spec["build_dir"], test_dir=spec["test_dir"],
                        results_xml=spec["results_xml"], log_file=log)
    except RuntimeError as exc:     # cocotb's "Command failed with return code: N"
        print(f"sim.worker: {spec['action']} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
