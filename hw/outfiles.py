"""Outputs written whole or not at all, shared by every command of the project.

- :func:`atomic_file` and :func:`atomic_dir` write into a temporary sibling of the target
  (``.<name>.tmp-<pid>``) and rename it into place only when the block succeeds; on an error,
  Ctrl-C or SIGTERM (see :func:`exit_on_sigterm`) the temporary is removed, and one left by a
  killed process (SIGKILL) is removed by the next run that writes the same target
  (:func:`remove_stale_temps`).
- A directory that already exists is replaced only if ``owned(path)`` says this tool wrote it
  (e.g. its manifest carries the tool's format marker); otherwise :class:`OutputError`.
- Temporaries get the permissions of an ordinary new file or folder (``mkdtemp`` would make
  them private).
- :func:`check_writable_dir` refuses an output folder that cannot be written before any long
  work starts.
- :func:`exit_with` ends a command's process; a reader that closed the pipe early ends it
  quietly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator, NoReturn


class OutputError(ValueError):
    """An output path cannot be used (a file where a folder is needed, not writable, not ours to
    replace); the message names the path and says what to do."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.tmp-"


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temporaries of ``target`` left by processes that no longer run; return them."""
    target = Path(target)
    removed = []
    if not target.parent.is_dir():
        return removed
    prefix = _temp_prefix(target)
    for cand in target.parent.glob(prefix + "*"):
        pid = cand.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            if cand.is_dir() and not cand.is_symlink():
                shutil.rmtree(cand, ignore_errors=True)
            else:
                cand.unlink(missing_ok=True)
            removed.append(cand)
    return removed


def check_writable_dir(path, what: str = "--out") -> Path:
    """``path`` as a Path whose parent exists (created) and can be written; OutputError with the
    path otherwise. Run it before long work, so a bad output path fails in a second."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path} is a file, not a folder; give a folder path")
    parent = path if path.is_dir() else path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot create {parent} ({exc.strerror})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: {parent} is not writable; choose another folder")
    return path


def check_writable_file(path, what: str = "output") -> Path:
    """``path`` as a Path that can be created or replaced as a file (its folder created);
    OutputError with the path otherwise."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot create {path.parent} ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: {path.parent} is not writable; choose another path")
    return path


@contextlib.contextmanager
def atomic_file(path, mode: str = "w") -> Iterator:
    """Open a temporary sibling of ``path`` for writing; it replaces ``path`` when the block
    ends without an exception and is removed otherwise."""
    path = check_writable_file(path)
    remove_stale_temps(path)
    tmp = path.parent / f"{_temp_prefix(path)}{os.getpid()}"
    try:
        with open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all."""
    with atomic_file(path) as fh:
        fh.write(text)
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path, owned: Callable[[Path], bool] | None = None,
               what: str = "--out") -> Iterator[Path]:
    """Yield an empty temporary sibling folder of ``path``; it replaces ``path`` when the block
    ends without an exception and is removed otherwise.

    An existing ``path`` is replaced only if it is empty or ``owned(path)`` is true (this tool
    wrote it); anything else raises OutputError before the block runs.
    """
    path = check_writable_dir(path, what)
    if path.is_dir() and any(path.iterdir()) and not (owned and owned(path)):
        raise OutputError(f"{what} {path} exists, is not empty and was not written by this "
                          "command; choose another folder or remove it yourself")
    remove_stale_temps(path)
    tmp = path.parent / f"{_temp_prefix(path)}{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.old",
                                        dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def carry_over(old: Path, new: Path, ours) -> None:
    """Give the new output folder ``new`` every entry of the old folder ``old`` whose name is
    not in ``ours`` (the files the command writes) and that ``new`` does not have: hard links
    (copies where the file system has none; folders copied, links kept as links), so a
    replaced folder loses nothing a user put there and the old one stays whole until then."""
    if not old.is_dir():
        return

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    for entry in old.iterdir():
        if entry.name in ours or (new / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=link)
        elif entry.is_symlink():
            os.symlink(os.readlink(entry), new / entry.name)
        else:
            link(entry, new / entry.name)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit(143) in this process, so ``finally`` blocks (temporaries,
    child simulators) run as they do for Ctrl-C. Call it at the start of a command's main."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


# ---- input files and append-only records (added for `python -m hw`) ------------------------------
class InputFileError(ValueError):
    """An input file named by the user is missing or unreadable (not JSON, not the expected
    format); the message names the file (and the line) and says what to do."""


def read_json(path, what: str = "input"):
    """The JSON document in ``path``; InputFileError naming ``what`` (a flag such as
    ``--coeffs``) and the file when it is missing, unreadable or not JSON."""
    import json

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{what} {path}: " + ("is a folder, give a file"
                                                   if path.is_dir() else "no such file"))
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{what} {path}: cannot read it ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{what} {path}: not valid JSON at line {exc.lineno} column "
                             f"{exc.colno} ({exc.msg})") from None


def read_jsonl(path, what: str = "input", torn: list | None = None) -> list:
    """The records (one JSON object per line, blank lines skipped) of ``path``; InputFileError
    naming the file and line of the first bad one. A last line without its newline that does not
    parse is a record torn by a killed writer: with ``torn`` (a list) its 1-based line number
    and byte offset are appended there and the line is skipped; without, it is an error."""
    import json

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    recs, offset = [], 0
    lines = data.split(b"\n")
    for no, raw in enumerate(lines, 1):
        start, offset = offset, offset + len(raw) + 1
        if not raw.strip():
            continue
        last = no == len(lines)          # no newline after it
        try:
            rec = json.loads(raw.decode())
            if not isinstance(rec, dict):
                raise ValueError(f"a JSON {type(rec).__name__}, not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            if last and torn is not None:
                torn.append((no, start))
                continue
            hint = (" (a record torn by a killed run: rerun the command that appends to it, "
                    "which repairs it, or delete that line)" if last else "")
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise InputFileError(f"{what} {path}: line {no} is not a JSON record ({msg})"
                                 f"{hint}") from None
        recs.append(rec)
    return recs


def append_line(path, line: str) -> None:
    """Append ``line`` and a newline to ``path`` in one write and fsync it, so a killed process
    leaves either the whole line or a torn last line that :func:`read_jsonl` detects."""
    data = (line.rstrip("\n") + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_torn_tail(path, what: str = "records") -> int | None:
    """Cut a torn last line (see :func:`read_jsonl`) off the end of ``path``; return the number of
    bytes removed (None when there was none). The caller warns: the record was incomplete."""
    torn: list = []
    read_jsonl(path, what, torn=torn)
    if not torn:
        return None
    _, start = torn[0]
    size = Path(path).stat().st_size
    os.truncate(path, start)
    return size - start


def check_output_path(path, what: str = "--out", folder: bool = True) -> Path:
    """Like :func:`check_writable_dir` (``folder``) and :func:`check_writable_file`, but creates
    nothing: ``path`` as a Path that can be written (it is, or can become, a folder / a file)
    under the nearest existing folder, which must be writable; OutputError naming ``what`` and
    the path otherwise. For checks before long work that may still fail on other grounds."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        if folder and not path.is_dir():
            raise OutputError(f"{what} {path} is a file, not a folder; give a folder path")
        if not folder and path.is_dir():
            raise OutputError(f"{what} {path} is a folder; give a file path")
    base = path if folder and path.is_dir() else path.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise OutputError(f"{what} {path}: {base} is a file, not a folder; choose another path")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: {base} is not writable; choose another path")
    return path


#: Exit status of a command whose reader closed the output early (128 + SIGPIPE, as a shell
#: reports a program killed by a broken pipe).
BROKEN_PIPE_STATUS = 141


def exit_with(main: Callable[[], int]) -> NoReturn:
    """Run a command's ``main()`` and exit with its status. A reader that stops early
    (``python -m hw network ... --json | head -1``) ends the command quietly with
    :data:`BROKEN_PIPE_STATUS` instead of a traceback; files the command writes are not
    affected (they are written whole or not at all, as above)."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # stdout now points at a closed pipe: send what Python still flushes at exit nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = BROKEN_PIPE_STATUS
    sys.exit(status)
