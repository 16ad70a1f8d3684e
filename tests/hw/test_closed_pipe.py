"""A command whose reader closes the pipe early ends quietly (hw.outfiles.exit_with)."""

import subprocess
import sys

from hw.outfiles import BROKEN_PIPE_STATUS


def _read_then_close(cmd, size):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.read(size)
    proc.stdout.close()              # as `| head -c SIZE` does
    err = proc.stderr.read().decode()
    return first, proc.wait(), err


def test_closed_pipe_ends_a_command_quietly():
    # 20 MB of output: far beyond any pipe buffer, so the write must meet the closed pipe
    code = ("from hw.outfiles import exit_with\n"
            "def main():\n"
            "    for _ in range(20000):\n"
            "        print('x' * 1000)\n"
            "    return 0\n"
            "exit_with(main)\n")
    first, status, err = _read_then_close([sys.executable, "-c", code], 1001)
    assert first == b"x" * 1000 + b"\n"
    assert status == BROKEN_PIPE_STATUS
    assert err == ""                 # no traceback, no "Exception ignored" at shutdown


def test_closed_pipe_on_a_real_command():
    # one JSON line of about 157 kB, beyond a pipe buffer (64 kB): the reader takes its
    # first byte only
    first, status, err = _read_then_close(
        [sys.executable, "-m", "hw", "network", "--network", "binaryvit-s", "--json"], 1)
    assert first == b"{"
    assert status == BROKEN_PIPE_STATUS
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
