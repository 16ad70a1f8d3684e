"""Dask distributed clusters for the long fan-out runs: ``python -m sim regress`` (random
regressions) and ``python -m hw synth --sweep NAME --scheduler ADDRESS`` (synthesis sweeps).

Without an address, :func:`dask_client` starts a ``LocalCluster`` of single-threaded worker
processes on this machine (each task starts its own simulator or synthesis tool, so one thread
per worker is one busy core). With an address it connects to a running scheduler; start one on
any machine, then workers on every machine that should take part, each in a checkout of the same
revision with its ``.venv`` (the tasks import this repository's code there)::

    .venv/bin/dask scheduler --port 8786                          # prints tcp://HOST:8786
    .venv/bin/dask worker tcp://HOST:8786 --nworkers 2 --nthreads 1   # on each machine

A scheduler that does not answer within the connection timeout, an address that is not one, a
scheduler without workers, and workers that run other code than this checkout are
:class:`ClusterError` (one ``error:`` line, exit status 2) before any task is submitted.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import time
from pathlib import Path

#: the packages whose source a worker must share with the client
_CODE_PACKAGES = ("hw", "sim")


class ClusterError(ValueError):
    """The Dask scheduler cannot be used: unreachable, not a scheduler, no workers, or workers
    running other code (``python -m hw``/``python -m sim``: exit status 2)."""


def _hint(address: str) -> str:
    return (f"start one with `.venv/bin/dask scheduler` and workers with `.venv/bin/dask worker "
            f"{address} --nthreads 1`, or leave out --scheduler to run on this machine")


def parse_address(address: str) -> tuple[str, str, int | None]:
    """(normalised address, host, port) of a scheduler address ``[tcp://]HOST:PORT``;
    ClusterError for anything else."""
    from distributed.comm import parse_address as dask_parse

    text = address.strip()
    if "://" not in text:
        text = "tcp://" + text
    try:
        scheme, loc = dask_parse(text)
    except (ValueError, TypeError) as exc:
        raise ClusterError(f"--scheduler {address!r} is not an address ({exc}); give "
                           "HOST:PORT or tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786") from None
    host, _, port = loc.rpartition(":")
    if scheme == "tcp":
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ClusterError(f"--scheduler {address!r}: give HOST:PORT with a port in "
                               "1..65535, e.g. tcp://10.0.0.5:8786")
        return f"tcp://{loc}", host.strip("[]"), int(port)
    return text, host, None


def _probe(address: str, host: str, port: int | None, timeout: float) -> None:
    """A plain TCP connect first: an unreachable address becomes one clear line within
    ``timeout`` seconds, without a half-built Dask client left to time out at exit. A Dask
    scheduler speaks first (its handshake): a server that accepts the connection and stays
    silent (the Dask client would wait for it forever) is refused too."""
    if port is None:
        return
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(max(0.1, timeout - (time.monotonic() - t0)))
            try:
                first = sock.recv(1)
            except TimeoutError:
                first = b""
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ClusterError(f"--scheduler {address}: no Dask scheduler answers there "
                           f"({reason} after at most {timeout:g} s); {_hint(address)}") from None
    if not first:
        raise ClusterError(f"--scheduler {address}: something accepts connections there but "
                           f"sent no Dask handshake within {timeout:g} s: not a Dask scheduler; "
                           f"{_hint(address)}")


def code_digest() -> str:
    """sha256 of this checkout's Python source (hw/, sim/): a worker that imports
    other code would compute other results."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for pkg in _CODE_PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, workers: int = 2, timeout: float = 10.0,
                check_code: bool = True, quiet: bool = True):
    """A ``distributed.Client``: connected to the scheduler at ``scheduler`` (ClusterError when
    it does not answer within ``timeout`` s, has no worker within ``timeout`` s, or a worker
    runs other code than this checkout), or to a new ``LocalCluster`` of ``workers``
    single-threaded worker processes, closed when the block ends. Yields (client, what) with
    ``what`` a short description for the logs."""
    from distributed import Client, LocalCluster

    if quiet:   # the scheduler's and nanny's INFO lines (worker restarts stay visible as WARN)
        for name in ("distributed", "distributed.scheduler", "distributed.nanny",
                     "distributed.worker", "distributed.core"):
            logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler is None:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0", memory_limit=0,   # any free port
                          silence_logs=logging.ERROR if quiet else logging.WARNING) as cluster, \
                Client(cluster, set_as_default=False) as client:
            yield client, f"a local cluster of {workers} worker process(es)"
        return
    address, host, port = parse_address(scheduler)
    _probe(address, host, port, timeout)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:     # noqa: BLE001 -- whatever answered, it is not a scheduler
        raise ClusterError(f"--scheduler {address}: the server there did not answer as a Dask "
                           f"scheduler within {timeout:g} s ({type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:200]}); {_hint(address)}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except Exception:        # noqa: BLE001 -- distributed raises TimeoutError here
            raise ClusterError(f"--scheduler {address}: the scheduler has no worker (none "
                               f"joined within {timeout:g} s); start some with `.venv/bin/dask "
                               f"worker {address} --nthreads 1` in a checkout of this "
                               "revision") from None
        if check_code:
            mine = code_digest()
            theirs = client.run(code_digest)
            other = sorted(w for w, d in theirs.items() if d != mine)
            if other:
                raise ClusterError(
                    f"--scheduler {address}: worker(s) {', '.join(other)} run other code than "
                    f"this checkout (source digest {theirs[other[0]]} vs {mine}); update their "
                    "checkouts to this revision and restart them")
        n = len(client.scheduler_info(n_workers=-1)["workers"])
        yield client, f"the scheduler {address} ({n} worker(s))"


def task_error(fut) -> str:
    """Why a Dask task that ended gave no result, in one line: ``its task failed on the
    cluster (Type: message)`` (it erred after its retries, or its workers died
    ``allowed-failures`` times) or ``its task was cancelled``."""
    if fut.status != "error":
        return "its task was cancelled"
    exc = fut.exception()
    return (f"its task failed on the cluster ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:300]})")


def completed(client, futures):
    """Each of ``futures`` as it ends, as (future, result, error): the result when it finished
    (error None), else None and :func:`task_error`'s line. A future is released once the
    caller has taken it; when the caller stops early (break, an exception, Ctrl-C) the
    futures not yet ended are cancelled."""
    from distributed import as_completed

    futures = list(futures)
    try:
        for fut in as_completed(futures, loop=client.loop):
            if fut.status == "finished":
                yield fut, fut.result(), None
            else:
                yield fut, None, task_error(fut)
            fut.release()
    finally:
        client.cancel([f for f in futures if not f.done()])
