"""How every command of the project (``python -m model / hw / sim``) ends its process."""

from __future__ import annotations

import os
import sys
from typing import Callable, NoReturn

#: Exit status of a command whose reader closed the output early (128 + SIGPIPE, as a shell
#: reports a program killed by a broken pipe).
BROKEN_PIPE_STATUS = 141


def exit_with(main: Callable[[], int]) -> NoReturn:
    """Run a command's ``main()`` and exit with its status. A reader that stops early
    (``python -m hw network ... --json | head -1``) ends the command quietly with
    :data:`BROKEN_PIPE_STATUS` instead of a traceback; files the command writes are not
    affected (they are written whole or not at all, :mod:`hw.outfiles`)."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # stdout now points at a closed pipe: send what Python still flushes at exit nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = BROKEN_PIPE_STATUS
    sys.exit(status)
