"""Cycles of a sequence of matmul jobs streamed into one matmul core: the host offers every
command beat and data beat as early as the core takes it (input always valid, output always
ready), the jobs' data beats in job order (each job's W rows, then its A rows).

Each job i has its command beat taken in cycle a_i and its last result beat in cycle L_i
(the first command in cycle 0). With C_i = :func:`hw.cost.cycles.matmul_cycles` (its cycles
alone), Wb_i = ceil(N_i/G) KW_i its W load beats (the ``w_load`` term) and Ab_i = ceil(M_i/G) KW_i its A load beats:

    L_0 = C_0 - 1
    e_i = L_i - (result_latency - 1)        the cycle job i's MM_DONE ends (its last drain
                                            shift was the cycle before; its last result leaves
                                            the result path result_latency cycles after that
                                            shift, hw.rtl.parts.job_control.JobControl,
                                            hw.rtl.parts.result_path.ResultPath)

One weight buffer (``w_buffers`` 1): the next command is taken in IDLE, the cycle after:

    a_{i+1} = e_i + 1,   L_{i+1} = a_{i+1} + C_{i+1} - 1

Two weight buffers (``w_buffers`` 2): the next command is taken once job i's operands are all
loaded, x_i + 1 (x_i: job i's last A beat), and its W loads into the other buffer while job i
computes; it runs from r = e_i + 1 (job control's NEXT cycle, which takes the job as IDLE takes
a command beat):

    a_{i+1} = x_i + 1
    if a_{i+1} + 1 + Wb_{i+1} <= r:         its W is in when it runs: its A rows load at once
        L_{i+1} = r + C_{i+1} - Wb_{i+1} - 1,   x_{i+1} = r + 1 + Ab_{i+1}
    else:                                   its W still loads: the job as if alone from a_{i+1}
        L_{i+1} = a_{i+1} + C_{i+1} - 1,        x_{i+1} = a_{i+1} + 1 + Wb_{i+1} + Ab_{i+1}

(x_0 = 1 + Wb_0 + Ab_0: the command beat, the setup cycle, then one data beat per cycle.)

Two activation buffers as well (``a_buffers`` 2): a job taken ahead loads its A rows right
after its W, into the other half of the activation banks, and keeps its tile rows aside until
it runs. With its W in when it runs (the same condition as above), its first tile row's A
rows (Af_{i+1} = the ``a_load`` term's beats) are in by y = a_{i+1} + 1 + Wb_{i+1} +
Af_{i+1}, and its reads start as if its loads had ended at max(r + 1, y):

    L_{i+1} = max(r + 1, y) + C_{i+1} - Wb_{i+1} - Af_{i+1} - 2
    x_{i+1} = max(r + 1, a_{i+1} + 1 + Wb_{i+1} + Ab_{i+1})

(r + 1 is the run's setup cycle; with W still loading when it runs, the job is as if alone, as
above.)
tests/hw/rtl/test_w_buffers.py and tests/hw/rtl/test_a_buffers.py check every a_i and L_i
in simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ArrayConfig, ceil_div, load_beats
from .cycles import matmul_terms


@dataclass(frozen=True)
class JobTimes:
    """One job of a streamed sequence: its command beat's cycle, its last result beat's, and
    whether its W load was hidden (loaded while the job before ran, ``w_buffers`` 2)."""

    command: int
    last_result: int
    w_hidden: bool = False


def sequence_times(cfg: ArrayConfig, shapes) -> list[JobTimes]:
    """:class:`JobTimes` of each matmul job of ``shapes`` ((M, N, K) each, in order), streamed
    into the matmul core from cycle 0 (the module docstring's recurrence). Elementwise on numpy
    arrays of config values too (:class:`hw.cost.dse.ConfigGrid`): then each field is an array,
    one value per config."""
    out: list[JobTimes] = []
    g, lag = cfg.load_rows_eff, cfg.result_latency - 1
    last_a_beat = 0
    terms_of: dict = {}            # one matmul_terms per distinct shape (a network repeats them)
    for i, (m, n, k) in enumerate(shapes):
        if (m, n, k) not in terms_of:
            terms_of[m, n, k] = matmul_terms(cfg, m, n, k)
        terms = terms_of[m, n, k]
        alone, w_beats = sum(terms.values()), terms["w_load"]
        a_beats = load_beats(m, g) * ceil_div(k, cfg.simd)
        hidden = False
        if i == 0:
            start, last = 0, alone - 1
            last_a_beat = 1 + w_beats + a_beats
        else:
            run = out[-1].last_result - lag + 1
            if cfg.w_buffers == 2:
                start = last_a_beat + 1
                hidden = start + 1 + w_beats <= run
                alone_a_end = start + 1 + w_beats + a_beats
                if cfg.a_buffers == 2:
                    first = terms["a_load"]
                    first_rows_in = np.maximum(run + 1, start + 1 + w_beats + first)
                    last = np.where(hidden, first_rows_in + alone - w_beats - first - 2,
                                    start + alone - 1)
                    last_a_beat = np.where(hidden, np.maximum(run + 1, alone_a_end),
                                           alone_a_end)
                else:
                    last = np.where(hidden, run + alone - w_beats - 1, start + alone - 1)
                    last_a_beat = np.where(hidden, run + 1 + a_beats, alone_a_end)
            else:
                start = run
                last = start + alone - 1
        out.append(JobTimes(*(_plain(v) for v in (start, last, hidden))))
    return out


def _plain(value):
    """A 0-d numpy value as a Python int or bool (an array of configs stays an array)."""
    if isinstance(value, np.ndarray) and value.ndim:
        return value
    return value.item() if isinstance(value, np.generic | np.ndarray) else value


def sequence_cycles(cfg: ArrayConfig, shapes) -> int:
    """Cycles of the streamed sequence ``shapes``, first command beat to last result beat,
    both counted (0 for no job)."""
    times = sequence_times(cfg, shapes)
    return times[-1].last_result + 1 if times else 0


def streamed_increments(cfg: ArrayConfig, shapes) -> list[int]:
    """What each job of the streamed sequence ``shapes`` adds to its cycles: its last result
    beat's cycle less the job before's (the first job: its cycles alone). They sum to
    :func:`sequence_cycles`; a network's ops are charged their jobs' increments."""
    times = sequence_times(cfg, shapes)
    return [t.last_result - (times[i - 1].last_result if i else -1)
            for i, t in enumerate(times)]
