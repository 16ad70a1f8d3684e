"""Where a running yosys or nextpnr is, read from the tail of its own log, for a status line on
long single runs (a 50k-LUT ECP5 config: minutes of yosys, an hour and more of nextpnr).

:func:`phase` turns the last recognisable log line into a short phrase ("placing: HeAP iteration
12", "routing (router1): 166,000 arcs left"); :class:`StatusLine` prints it to a stream: one
line rewritten in place on a terminal, else one line each time the phrase changes, at most once
a minute (a log file stays readable). Nothing here changes what the tools do or record.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TextIO

#: bytes read from the end of a log (yosys writes tens of kB of techmap lines between passes)
TAIL_BYTES = 65536

#: (pattern on one log line, phrase from its groups); the first line from the log's end that
#: matches any of them, in this order, gives the phase
_PHASES = (
    (r"^Info:\s+\d+ \|\s+\d+\s+\d+ \|\s+\d+\s+\d+ \|\s+(\d+)\|",
     lambda g: f"routing (router1): {int(g[0]):,} arcs left"),
    (r"iter=(\d+)\s+wires=\d+\s+overused=(\d+)",
     lambda g: f"routing (router2): iteration {g[0]}, {int(g[1]):,} overused wires"),
    (r"at iteration #(\d+), type", lambda g: f"placing: HeAP iteration {g[0]}"),
    (r"^Info:\s+at iteration #(\d+): temp", lambda g: f"placing: annealing iteration {g[0]}"),
    (r"at initial placer iter (\d+)", lambda g: f"placing: initial iteration {g[0]}"),
    (r"^(\d+(?:\.\d+)*)\. Executing (\S+)", lambda g: f"{g[1]} (pass {g[0]})"),
    (r"Routing globals", lambda g: "routing: global nets"),
    (r"Routing\.\.", lambda g: "routing: setting up"),
    (r"Running router2", lambda g: "routing (router2): setting up"),
    (r"Running main analytical placer", lambda g: "placing: HeAP"),
    (r"Running simulated annealing placer", lambda g: "placing: annealing"),
    (r"Packing|Logic utilisation before packing", lambda g: "packing"),
)
_COMPILED = tuple((re.compile(p), phrase) for p, phrase in _PHASES)


def _line_phase(line: str) -> str | None:
    for pattern, phrase in _COMPILED:
        if m := pattern.search(line):
            return phrase(m.groups())
    return None


def phase(log: Path) -> str | None:
    """The phase of the tool writing ``log``, from its last recognisable line; None when the
    log does not exist yet or holds no such line."""
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - TAIL_BYTES))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        found = _line_phase(line)
        if found is not None:
            return found
    return None


class StatusLine:
    """Print ``tool mm:ss phase`` to ``stream``: rewritten in place when ``stream`` is a
    terminal, else a new line when the phase changes and at least ``every_s`` seconds have
    passed since the last one. :meth:`done` ends the in-place line."""

    def __init__(self, stream: TextIO, every_s: float = 60.0):
        self.stream, self.every_s = stream, every_s
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last, self._last_t, self._width = None, float("-inf"), 0

    def __call__(self, tool: str, elapsed_s: float, what: str | None) -> None:
        text = f"{tool} {int(elapsed_s) // 60:d}:{int(elapsed_s) % 60:02d} {what or 'starting'}"
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        elif what != self._last and time.monotonic() - self._last_t >= self.every_s:
            self.stream.write(text + "\n")
            self._last, self._last_t = what, time.monotonic()
        else:
            return
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
