"""per-op and total cycles, utilisation, latency and memory of a network on an array config (model)

  python -m hw network --network NAME [--rows R --cols C --simd S ...] [--device DEV] [--json]

Print the per-op and total cost of a network on a config. Ops are traced from the model package;
cycles come from hw.cost.cycles; each op's bound (compute or memory) and the totals with the
off-chip bandwidth and batch come from hw.cost.memory_bound (default bandwidth: an assumption,
hw/README.md). With --device: also the resource estimate and the device's
memory, and exit status 3 when the config does not fit (by how much on stderr).
"""

from __future__ import annotations

import argparse
import json

from .common import add_bandwidth_args, add_network_args, bandwidth_from_args, config_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_network_args(p)
    add_bandwidth_args(p)
    p.add_argument("--coeffs",
                   help="fitted resource model (default hw/synth/data/resource_model.json)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")


def run(ns) -> int:
    from ..cost.network import load_network, network_cost, require_fit

    cfg = config_from_args(ns)
    net = load_network(ns.network)
    require_fit(net, cfg)
    cost = network_cost(net, cfg, bandwidth_from_args(ns), ns.batch)
    if ns.device:
        from ..cost.devices import check_fits, get_device
        from ..cost.network import device_memory
        from ..cost.report import resource_estimate

        dev = get_device(ns.device)
        est, note = resource_estimate(cfg, dev, ns.coeffs)
        cost["resources"] = est if est else note
        cost["device_memory"] = device_memory(cost["memory"], dev, est["bram"] if est else None)
        if est:
            check_fits(est, dev)
    if ns.json:
        print(json.dumps(cost))
        return 0
    w = max(len(r["name"]) for r in cost["ops"])
    print(f"{'op':<{w}}  {'kind':<6} {'shape':<26} {'jobs':>5} {'cycles':>11} {'util':>6} bound")
    for r in cost["ops"]:
        u = f"{100 * r['utilisation']:.1f}%" if r["utilisation"] is not None else "-"
        print(f"{r['name']:<{w}}  {r['kind']:<6} {r['shape']:<26} {r['jobs']:>5} "
              f"{r['cycles']:>11,} {u:>6} {r['bound']}")
    t = cost["totals"]
    print(f"total: {t['ops']} ops, {t['jobs']} jobs, {t['cycles']:,} cycles "
          f"({t['matmul_cycles']:,} matmul + {t['pool_cycles']:,} pool), "
          f"binary MACs {t['binary_macs_linear'] + t['binary_macs_merge']:,} weight layers + "
          f"{t['binary_macs_attention']:,} attention, utilisation {100 * t['utilisation']:.2f}%, "
          f"{t['latency_ms']:.4g} ms, {t['frames_per_s']:.4g} frames/s at {cfg.clock_mhz:g} MHz "
          f"(model)")
    mt = t["matmul_terms"]
    kept = (f"weights kept across M chunks (--keep-weights 1) "
            f"{'saved' if cfg.keep_weights else 'would save'} {t['weight_reload_cycles']:,}")
    buffers = ("two weight and activation buffers (--w-buffers 2 --a-buffers 2)"
               if cfg.a_buffers == 2 else "two weight buffers (--w-buffers 2)")
    overlap = (f"{buffers}, the matmul jobs streamed: "
               f"{t['streamed_saved_cycles']:,} fewer" if cfg.w_buffers == 2 else
               f"an upper bound: every load hidden gives {t['cycles_every_load_hidden']:,} "
               f"cycles/frame")
    print(f"matmul cycles: {mt['reads']:,} tile reads (the compute limit), {mt['w_load']:,} W "
          f"load + {mt['a_load']:,} A load that no tile hides, {mt['spacing']:,} tile spacing "
          f"beyond KW, {mt['fixed']:,} job start, flush, drain and result latency; {kept}; "
          f"{overlap} (model)")
    o = cost["offchip"]
    print(f"with {o['bandwidth']['label']} off-chip, batch {o['batch']}: "
          f"{o['cycles_per_frame']:,.0f} cycles, {o['frames_per_s']:.4g} frames/s, utilisation "
          f"{100 * o['utilisation']:.2f}%, {o['memory_bound_ops']} ops memory-bound, "
          f"{o['bytes_per_frame'] / 1e6:.3g} MB/frame off-chip (model; bandwidth: "
          f"{o['bandwidth']['source'].split(':')[0]})")
    return 0
