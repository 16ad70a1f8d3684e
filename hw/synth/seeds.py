"""The nextpnr seed spread of committed synthesis records: the same config, RTL revision and
flow placed with several ``--seed`` values, each seed one placement (``python -m hw seeds``).

A group is the whole-accelerator records (``component`` "top") with Fmax of one device, one
config, one RTL revision and one nextpnr flow: its router (``--router``; none: nextpnr's
default), its ``--freq`` target and ``--tmg-ripup`` (:func:`flow_options`); a record's seed
is the ``--seed`` of its nextpnr flags. The flow is
deterministic (a seed run twice gives the same placement), so a seed recorded twice with
the same Fmax counts once; the same seed with two Fmax values is an error in the data.
"""

from __future__ import annotations

import glob
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from ..cost.devices import DeviceError
from ..outfiles import InputFileError, read_jsonl


@dataclass(frozen=True)
class SeedRun:
    """One placement: its nextpnr seed, Fmax (MHz), critical path endpoints and the file it is
    recorded in."""
    seed: int
    fmax_mhz: float
    path_from: str
    path_to: str
    source: str


@dataclass
class SeedSpread:
    """The seeds of one (device, config, RTL revision, router, other flow options), in seed
    order, and the config's target clock (``clock_mhz``)."""
    device: str
    config: dict
    rtl_revision: str
    runs: list[SeedRun]
    router: str | None = None
    options: str = ""       # flow_options: "" for the default flow

    @property
    def flow(self) -> str:
        """The router (nextpnr's default: router1) and the other flow options, in words."""
        return " ".join(filter(None, (self.router or "router1", self.options)))

    @property
    def label(self) -> str:
        """R x C x S, plus the options that differ from the defaults."""
        from dataclasses import asdict

        from ..config import ArrayConfig

        base = asdict(ArrayConfig(rows=self.config["rows"], cols=self.config["cols"],
                                  simd=self.config["simd"]))
        full = asdict(ArrayConfig.from_dict(self.config))
        extra = [f"{k}={v}" for k, v in full.items() if base[k] != v]
        dims = f"{self.config['rows']}x{self.config['cols']}x{self.config['simd']}"
        flow = " ".join(filter(None, (self.router, self.options)))
        routed = f", nextpnr {flow}" if flow else ""
        return dims + (f" ({', '.join(extra)})" if extra else "") + routed

    @property
    def target_mhz(self) -> float:
        from ..config import ArrayConfig

        return float(self.config.get("clock_mhz", ArrayConfig.clock_mhz))

    def summary(self) -> dict:
        """n, min, median, mean, max of the Fmax values and how many reach the target."""
        f = [r.fmax_mhz for r in self.runs]
        return {"seeds": len(f), "min": min(f), "median": round(statistics.median(f), 2),
                "mean": round(statistics.fmean(f), 2), "max": max(f),
                "target_mhz": self.target_mhz,
                "at_target": sum(x >= self.target_mhz for x in f)}


def nextpnr_option(rec: dict, flag: str) -> str | None:
    """The value of ``flag`` (``--seed``, ``--freq``, ``--router``) in a record's nextpnr flags
    (:func:`hw.synth.flow.nextpnr_args` writes them), or None where the record has no P&R or
    its flags lack the flag."""
    args = ((rec.get("flags") or {}).get("nextpnr") or "").split()
    return args[args.index(flag) + 1] if flag in args[:-1] else None


def tmg_ripup_of(rec: dict) -> bool:
    """Whether a record's nextpnr flags have ``--tmg-ripup`` (router1's timing-driven rip-up)."""
    return "--tmg-ripup" in ((rec.get("flags") or {}).get("nextpnr") or "").split()


def timing_weight_of(rec: dict) -> int | None:
    """The placer's timing weight a record's nextpnr flags spell (``--placer-heap-timingweight``),
    None for nextpnr's default."""
    weight = nextpnr_option(rec, "--placer-heap-timingweight")
    return int(weight) if weight is not None else None


def replicate_of(rec: dict) -> int | None:
    """The fanout bound of a record whose P&R netlist had its high-fanout drivers copied
    (``flags["replicate"]``, :data:`hw.synth.flow.REPLICATE_FLAG`), None for the plain flow."""
    flag = (rec.get("flags") or {}).get("replicate")
    return int(flag.rsplit("=", 1)[1]) if flag else None


def flow_options(rec: dict) -> str:
    """The nextpnr flow options of a record besides its seed and router that differ from the
    flow's defaults: ``--freq F`` when F is not the device's target, ``--tmg-ripup``,
    ``--placer-timing-weight W``, ``--replicate-fanout N``; "" for
    the default flow."""
    from ..cost.devices import get_device

    out = []
    freq = nextpnr_option(rec, "--freq")
    if freq is not None and float(freq) != get_device(rec["device"]).pnr_freq_mhz:
        out.append(f"--freq {float(freq):g}")
    if tmg_ripup_of(rec):
        out.append("--tmg-ripup")
    weight, bound = timing_weight_of(rec), replicate_of(rec)
    if weight is not None:
        out.append(f"--placer-timing-weight {weight}")
    if bound is not None:
        out.append(f"--replicate-fanout {bound}")
    return " ".join(out)


def seed_of(rec: dict) -> int | None:
    """The nextpnr ``--seed`` of a record (None without P&R flags)."""
    seed = nextpnr_option(rec, "--seed")
    return int(seed) if seed is not None else None


def seed_spreads(pattern: str | Path, device: str | None = None) -> list[SeedSpread]:
    """Every group of the records in the files matching ``pattern`` (see the module), largest
    first. InputFileError naming the file for a line that is not a record, no file at all, or
    one seed recorded with two different Fmax values."""
    files = sorted(p for p in glob.glob(str(pattern)) if Path(p).is_file())
    if not files:
        raise InputFileError(f"--data {pattern}: no file matches; give a glob of synthesis "
                             "records such as hw/synth/data/*.jsonl")
    groups: dict[tuple, SeedSpread] = {}
    for path in files:
        for rec in read_jsonl(path, "synthesis records"):
            seed = seed_of(rec)
            if (rec.get("component", "top") != "top" or rec.get("fmax_mhz") is None
                    or seed is None or "error" in rec or not isinstance(rec.get("config"), dict)
                    or (device is not None and rec.get("device") != device)):
                continue
            try:
                router, options = nextpnr_option(rec, "--router"), flow_options(rec)
            except DeviceError as e:
                raise InputFileError(f"synthesis records {path}: {e} (a record of another "
                                     "tool's device list, or a typo: fix or remove it)") from None
            key = (rec.get("device"), json.dumps(rec["config"], sort_keys=True),
                   rec.get("rtl_revision"), router, options)
            grp = groups.setdefault(key, SeedSpread(key[0], rec["config"], key[2], [], router,
                                                    options))
            cp = (rec.get("pnr") or {}).get("critical_path") or {}
            run = SeedRun(seed, float(rec["fmax_mhz"]), cp.get("from", "?"), cp.get("to", "?"),
                          Path(path).name)
            same = [r for r in grp.runs if r.seed == seed]
            if same and same[0].fmax_mhz != run.fmax_mhz:
                raise InputFileError(
                    f"synthesis records {path}: {key[0]} {grp.label} seed {seed} has Fmax "
                    f"{run.fmax_mhz} here and {same[0].fmax_mhz} in {same[0].source} (same RTL "
                    f"revision {key[2]}); the flow is deterministic, so one of them is from "
                    "another flow: remove it")
            if not same:
                grp.runs.append(run)
    out = list(groups.values())
    for g in out:
        g.runs.sort(key=lambda r: r.seed)
    out.sort(key=lambda g: (-len(g.runs), g.device, g.label))
    return out


def format_spread(g: SeedSpread) -> str:
    """A few lines: the group, its summary, then one line per seed."""
    s = g.summary()
    lines = [f"{g.device} {g.label}, RTL {g.rtl_revision}: {s['seeds']} seed(s), Fmax min "
             f"{s['min']:.2f} / median {s['median']:.2f} / mean {s['mean']:.2f} / max "
             f"{s['max']:.2f} MHz; {s['at_target']} of {s['seeds']} reach {s['target_mhz']:g} MHz"]
    for r in g.runs:
        lines.append(f"  seed {r.seed:>3}  {r.fmax_mhz:7.2f} MHz  {r.path_from} -> {r.path_to}"
                     f"  ({r.source})")
    return "\n".join(lines)
