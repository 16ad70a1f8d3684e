"""The representative regression of the default suite: 40 random jobs on two small configs,
Icarus, a Dask LocalCluster of two worker processes; one worker is killed (SIGKILL) while it
runs a chunk. The scheduler moves the chunk to a live worker: every job id comes back with its
row, every job passes, nothing is reported lost, and the results and coverage files hold every
job."""

import json
import os
import signal

from sim.regress import Regression, run, write_outputs


def test_killing_a_worker_mid_regression_loses_no_job(tmp_path):
    killed = {}

    def kill_a_busy_worker(done, total, client):
        if killed or client is None:
            return
        busy = {addr: keys for addr, keys in client.processing().items() if keys}
        if not busy:
            return
        addr = sorted(busy)[0]
        pid = client.run(os.getpid, workers=[addr])[addr]
        os.kill(pid, signal.SIGKILL)
        killed.update(addr=addr, pid=pid, tasks=list(busy[addr]), done=done)

    ids = list(range(40))
    reg = Regression(specs=["2x3x16", "1x1x8"], ids=ids, seed=3)
    out = run(reg, workers=2, on_result=kill_a_busy_worker, progress=False)
    assert killed and killed["tasks"] and killed["done"] < len(ids), killed
    assert sorted(out.rows) == ids
    lost = [r for r in out.rows.values() if r.get("not_run")]
    assert not lost, lost
    assert all(r["passed"] for r in out.rows.values()), \
        [(r["job"], r["failures"]) for r in out.rows.values() if not r["passed"]]
    assert {r["config"] for r in out.rows.values()} == {"2x3x16", "1x1x8"}
    assert sum(c["jobs"] for c in out.chunks) == len(ids)
    # the outputs: every row, and the merged coverage of all of them
    path = tmp_path / "regress.json"
    text, closed = write_outputs(path, reg, out)
    data = json.loads(path.read_text())
    assert [r["job"] for r in data["rows"]] == ids and data["summary"]["passed"] == len(ids)
    assert data["coverage"]["jobs"] == len(ids) and text.startswith("coverage: ")
    assert all(data["coverage"]["bins"][f"mode:{k}"] > 0 for k in ("xnor", "and", "pool"))
    assert json.loads((tmp_path / "regress.coverage.json").read_text())["coverage"] \
        == data["coverage"]
