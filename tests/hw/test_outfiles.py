"""Outputs written whole or not at all (hw/outfiles.py)."""

import os
import subprocess
import sys

import pytest

from hw.outfiles import (OutputError, atomic_dir, atomic_file, check_writable_dir,
                         remove_stale_temps, write_text_atomic)


def test_atomic_file_replaces_only_on_success(tmp_path):
    path = tmp_path / "out.json"
    write_text_atomic(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as fh:
            fh.write("half")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]   # no temporary left
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_atomic_dir_never_replaces_a_folder_it_did_not_write(tmp_path):
    out = tmp_path / "golden"
    out.mkdir()
    (out / "manifest.json").write_text("{}")          # a user's file of the same name
    with pytest.raises(OutputError, match="not written by this command"):
        with atomic_dir(out, owned=lambda p: False):
            pass
    assert (out / "manifest.json").read_text() == "{}"
    with atomic_dir(out, owned=lambda p: True) as tmp:
        (tmp / "a").write_text("1")
        assert oct(tmp.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    assert sorted(p.name for p in out.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden"]


def test_a_failed_block_leaves_the_old_folder_and_no_temporary(tmp_path):
    out = tmp_path / "rep"
    with atomic_dir(out) as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(out, owned=lambda p: True) as tmp:
            (tmp / "x").write_text("2")
            raise KeyboardInterrupt
    assert (out / "x").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".out.tmp-{dead}"
    stale.mkdir()
    live = tmp_path / f".out.tmp-{os.getpid()}"
    live.mkdir()
    assert remove_stale_temps(tmp_path / "out") == [stale]
    assert not stale.exists() and live.exists()


def test_output_paths_are_checked_before_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_writable_dir(tmp_path / "file")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(OutputError, match="not writable"):
            check_writable_dir(ro / "out")
    finally:
        ro.chmod(0o700)
