"""`python -m model` refuses every bad input before any work (exit 2, one ``error:`` line that
names the file or flag, no traceback), never deletes what it did not write, and leaves nothing
partial (issue 12, the model rows: 1, 6, 9, 15, 17)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hw.opfile import GOLDEN_KIND, JobError, read_manifest
from model.__main__ import main
from model.checkpoint import CHECKPOINT_KIND, save_checkpoint
from model.config import BinaryViTConfig

REPO = Path(__file__).resolve().parents[2]
CKPT = REPO / "model" / "checkpoints" / "digits"
MICRO = {"image_size": 8, "patch_size": 1, "in_channels": 1, "num_classes": 10,
         "dims": [8, 16], "depths": [1, 1], "heads": [1, 1], "sr_ratios": [2, 1],
         "ffn_sizes": [16, 32]}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def tree(root: Path) -> dict:
    """Every path under ``root`` (hidden ones included) -> sha256 of a file, or 'dir'."""
    return {str(p.relative_to(root)): ("dir" if p.is_dir() else
                                       hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))}


def run(capsys, *argv) -> tuple[int, str, list[str]]:
    """main(argv) in-process: (exit code, stderr, the lines of stderr that hold 'error:')."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:          # argparse
        rc = exc.code
    _, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return rc, err, [line for line in err.splitlines() if "error:" in line]


def refused(capsys, *argv, names: str, says: str = "") -> str:
    """Assert exit 2 and exactly one error line that names ``names`` (and holds ``says``)."""
    rc, err, errors = run(capsys, *argv)
    assert rc == 2, err
    assert len(errors) == 1, err
    assert errors[0].startswith("error: "), errors
    assert names in errors[0], errors[0]
    assert says in errors[0], errors[0]
    return errors[0]


def checkpoint_copy(tmp_path: Path, weights: bytes | None = None, config: str | None = None,
                    name: str = "ck") -> Path:
    ck = tmp_path / name
    ck.mkdir()
    (ck / "config.json").write_text(config if config is not None
                                    else (CKPT / "config.json").read_text())
    (ck / "weights.pt").write_bytes(weights if weights is not None
                                    else (CKPT / "weights.pt").read_bytes())
    return ck


def golden_like(tmp_path: Path) -> Path:
    """A real golden directory written by the command (one image)."""
    out = tmp_path / "golden"
    assert main(["export", "--checkpoint", str(CKPT), "--images", "1", "--out", str(out)]) == 0
    return out


# ---- row 1: a folder with someone else's manifest.json is never replaced --------------------

@pytest.mark.parametrize("manifest", [
    '{"a": 1}',                                                   # any file of that name
    json.dumps({"format_version": 1, "ops": []}),                # an old (unmarked) manifest
    json.dumps({"format_version": 99, "kind": GOLDEN_KIND, "ops": []}),   # another version
    "{not json",                                                  # malformed
    "[1, 2]",                                                     # a list at the top level
    "\ufeff" + json.dumps({"kind": "other"}),                     # BOM, not ours
])
def test_row1_export_never_replaces_a_folder_without_the_golden_marker(tmp_path, capsys,
                                                                       manifest):
    d = tmp_path / "D"
    d.mkdir()
    (d / "manifest.json").write_text(manifest, encoding="utf-8")
    (d / "notes.txt").write_text("my notes")
    (d / "sub").mkdir()
    (d / "sub" / "data.bin").write_bytes(b"\x00\x01")
    before = tree(tmp_path)
    refused(capsys, "export", "--checkpoint", CKPT, "--out", d,
            names=str(d / "manifest.json"), says="not written by `python -m model export`")
    assert tree(tmp_path) == before


def test_row1_old_manifest_error_says_re_export(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 1, "ops": []}))
    with pytest.raises(JobError, match=r"(?s)manifest\.json.*older export.*re-export it"):
        read_manifest(tmp_path)


def test_row1_a_golden_directory_is_replaced_whole(tmp_path, capsys):
    out = golden_like(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["format_version"], manifest["kind"]) == (1, GOLDEN_KIND)
    (out / "stale.npz").write_bytes(b"old")                     # inside our own folder
    assert main(["export", "--checkpoint", str(CKPT), "--images", "2", "--out", str(out)]) == 0
    assert not (out / "stale.npz").exists()
    assert json.loads((out / "manifest.json").read_text())["images"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden"]     # no temporaries
    capsys.readouterr()


# ---- row 6: non-finite / non-positive float options, divergence ------------------------------

@pytest.mark.parametrize("lr", ["inf", "-inf", "nan", "0", "-1", "abc", "1e999"])
def test_row6_train_refuses_a_bad_lr_before_any_work(tmp_path, capsys, lr):
    refused(capsys, "train", "--lr", lr, "--out", tmp_path / "run", names="--lr")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--batch-size", "0"),
                                         ("--max-shift", "-1"), ("--max-shift", "8"),
                                         ("--seed", "-1"), ("--epochs", "1.5")])
def test_row6_train_refuses_bad_integer_options(tmp_path, capsys, flag, value):
    refused(capsys, "train", flag, value, "--out", tmp_path / "run", names=flag)
    assert list(tmp_path.iterdir()) == []


def test_row6_diverging_training_stops_and_writes_no_checkpoint(tmp_path, capsys):
    cfg = tmp_path / "micro.json"
    cfg.write_text(json.dumps(MICRO))
    out = tmp_path / "run"
    save_checkpoint(out, _micro_model(), {"test_top1": 0.25})   # a previous run of ours
    before = tree(tmp_path)
    refused(capsys, "train", "--config", cfg, "--epochs", "1", "--batch-size", "256",
            "--lr", "1e30", "--out", out, names="--lr", says="training diverged")
    assert tree(tmp_path) == before                             # old checkpoint untouched


def _micro_model():
    from model import BinaryViT
    torch.manual_seed(0)
    return BinaryViT(BinaryViTConfig(**MICRO))


# ---- train --out: whole or nothing, only its own folders replaced ----------------------------

def test_train_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("config.json", "weights.pt", "metrics.json"):   # same names, not ours
        (out / name).write_text("user data")
    before = tree(tmp_path)
    refused(capsys, "train", "--epochs", "1", "--out", out, names=str(out),
            says="not written by `python -m model train`")
    assert tree(tmp_path) == before


def test_train_writes_a_marked_checkpoint_and_replaces_only_its_own(tmp_path, capsys):
    cfg = tmp_path / "micro.json"
    cfg.write_text(json.dumps(MICRO))
    out = tmp_path / "run"
    args = ["train", "--config", str(cfg), "--epochs", "1", "--batch-size", "256",
            "--out", str(out)]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.json",
                                                    "weights.pt"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["kind"], metrics["format_version"]) == (CHECKPOINT_KIND, 1)
    assert main(args + ["--seed", "1"]) == 0                    # ours: replaced
    assert json.loads((out / "metrics.json").read_text())["settings"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["micro.json", "run"]
    capsys.readouterr()


# ---- row 9: SIGTERM removes the temporary, a SIGKILL's temporary goes at the next run -------

_STUCK_EXPORT = """
import sys, time
from pathlib import Path
import model.export as export
def stuck(op):
    Path(sys.argv[2]).write_text("ready")
    time.sleep(600)
export.matmul_job = stuck
from model.__main__ import main
sys.exit(main(["export", "--checkpoint", sys.argv[3], "--out", sys.argv[1]]))
"""


def _start_stuck_export(tmp_path: Path, out: Path) -> subprocess.Popen:
    ready = tmp_path / "ready"
    # SIGINT back to its default in the child: a test run started in the background by a
    # shell without job control inherits SIGINT ignored, and Python then leaves it ignored
    proc = subprocess.Popen([sys.executable, "-c", _STUCK_EXPORT, str(out), str(ready),
                             str(CKPT)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300                           # a wait, not an assertion
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not ready.exists():
        proc.kill()
        pytest.fail(f"the export never started: {proc.communicate()}")
    ready.unlink()
    return proc


@pytest.mark.parametrize("sig, rc", [(signal.SIGTERM, 128 + signal.SIGTERM),
                                     (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("previous", [False, True], ids=["new", "replacing"])
def test_row9_signal_leaves_no_temporary_and_keeps_the_old_output(tmp_path, capsys, previous,
                                                                  sig, rc):
    out = tmp_path / "golden"
    if previous:
        golden_like(tmp_path)
        capsys.readouterr()
    before = tree(tmp_path)
    proc = _start_stuck_export(tmp_path, out)
    try:
        assert any(p.name.startswith(".golden.tmp-") for p in tmp_path.iterdir())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == rc, err
    assert "Traceback" not in err, err
    assert tree(tmp_path) == before                             # nothing left, nothing lost


def test_row9_stale_temporary_of_a_killed_export_is_removed_by_the_next(tmp_path, capsys):
    out = tmp_path / "golden"
    proc = _start_stuck_export(tmp_path, out)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=120)
    finally:
        proc.kill()
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".golden.tmp-")]
    assert [p.name for p in stale] == [f".golden.tmp-{proc.pid}"]
    assert not out.exists()
    assert main(["export", "--checkpoint", str(CKPT), "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden"]
    assert len(read_manifest(out)) > 0
    capsys.readouterr()


# ---- row 15: malformed manifests, checkpoints, configs; bad --out; --pool-bits ---------------

def _golden_manifest(tmp_path: Path) -> Path:
    (tmp_path / "0000_a.npz").write_bytes(b"x")
    return tmp_path / "manifest.json"


@pytest.mark.parametrize("text, says", [
    ("{not json", "is not valid JSON"),
    ("[]", "holds a JSON list, not an object"),
    ('"golden"', "holds a JSON str"),
    ("", "is not valid JSON"),
    (json.dumps({"kind": GOLDEN_KIND, "format_version": 1, "ops": {}}), "no 'ops' list"),
    (json.dumps({"kind": GOLDEN_KIND, "format_version": 1, "ops": [3]}),
     "op entry 0 is a JSON int"),
    (json.dumps({"kind": GOLDEN_KIND, "format_version": 1,
                 "ops": [{"name": "a", "kind": "matmul"}]}), "op entry 0 has no 'file'"),
    (json.dumps({"kind": GOLDEN_KIND, "format_version": 1,
                 "ops": [{"name": "a", "kind": "matmul", "file": "../x.npz"}]}),
     "not a plain file name"),
    (json.dumps({"kind": GOLDEN_KIND, "format_version": 1,
                 "ops": [{"name": "a", "kind": "matmul", "file": "0001_b.npz"}]}),
     "lists 0001_b.npz, which is not in"),
])
def test_row15_read_manifest_errors_name_the_file(tmp_path, text, says):
    path = _golden_manifest(tmp_path)
    path.write_text(text)
    with pytest.raises(JobError) as info:
        read_manifest(tmp_path)
    assert str(path) in str(info.value) and says in str(info.value)
    assert "\n" not in str(info.value)


def test_row15_read_manifest_accepts_a_utf8_bom(tmp_path):
    path = _golden_manifest(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(
        {"format_version": 1, "kind": GOLDEN_KIND,
         "ops": [{"name": "a", "kind": "matmul", "file": "0000_a.npz"}]}).encode())
    assert [op["path"] for op in read_manifest(tmp_path)] == [str(tmp_path / "0000_a.npz")]


def test_row15_read_manifest_refuses_bytes_that_are_not_utf8(tmp_path):
    path = _golden_manifest(tmp_path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(JobError, match="is not UTF-8"):
        read_manifest(tmp_path)


def _bare_tensor() -> bytes:
    import io
    buf = io.BytesIO()
    torch.save(torch.zeros(3), buf)
    return buf.getvalue()


def _nan_weights() -> bytes:
    import io
    state = torch.load(CKPT / "weights.pt", weights_only=True)
    state["head.weight"] = torch.full_like(state["head.weight"], float("nan"))
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _wrong_keys() -> bytes:
    import io
    buf = io.BytesIO()
    torch.save({"nope": torch.zeros(2)}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("command", ["info", "export"])
@pytest.mark.parametrize("weights, says", [
    (os.urandom(4096), "cannot be read as a PyTorch state dict"),
    (b"", "it is empty"),
    (_bare_tensor(), "holds a Tensor, not a state dict"),
    (_wrong_keys(), "cannot be loaded into the model"),
    (_nan_weights(), "holds NaN or Inf values"),
], ids=["random", "empty", "bare-tensor", "wrong-keys", "nan"])
def test_row15_damaged_weights_are_one_error_line(tmp_path, capsys, command, weights, says):
    ck = checkpoint_copy(tmp_path, weights=weights)
    out = ["--out", str(tmp_path / "g")] if command == "export" else []
    before = tree(tmp_path)
    refused(capsys, command, "--checkpoint", ck, *out, names=str(ck / "weights.pt"), says=says)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("config, says", [
    ("{oops", "not valid JSON"),
    ("[1, 2, 3]", "holds a JSON list"),
    (json.dumps({**MICRO, "dims": 5}), "dims must be a list of integers"),
    (json.dumps({**MICRO, "image_size": "8"}), "image_size must be an integer"),
    (json.dumps({**MICRO, "depths": [1.5, 1]}), "depths must be an integer"),
    (json.dumps({**MICRO, "norm_eps": -1}), "norm_eps must be a finite number"),
    (json.dumps({**MICRO, "colour": 1}), "unknown config fields"),
    (json.dumps({**MICRO, "heads": [3, 1]}), "not a multiple of heads"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_row15_malformed_config_is_one_error_line(tmp_path, capsys, config, says):
    ck = checkpoint_copy(tmp_path, config="")
    (ck / "config.json").write_bytes(config if isinstance(config, bytes) else config.encode())
    before = tree(tmp_path)
    refused(capsys, "info", "--checkpoint", ck, names=str(ck / "config.json"), says=says)
    refused(capsys, "train", "--config", ck / "config.json", "--out", tmp_path / "run",
            names=str(ck / "config.json"), says=says)
    assert tree(tmp_path) == before


def test_row15_config_with_a_bom_is_accepted(tmp_path, capsys):
    ck = checkpoint_copy(tmp_path, config="\ufeff" + (CKPT / "config.json").read_text())
    rc, err, _ = run(capsys, "info", "--checkpoint", ck)
    assert rc == 0, err


@pytest.mark.parametrize("what", ["missing", "file"])
def test_row15_checkpoint_that_is_not_a_folder(tmp_path, capsys, what):
    ck = tmp_path / "ck"
    if what == "file":
        ck.write_text("x")
    refused(capsys, "export", "--checkpoint", ck, "--out", tmp_path / "g", names=str(ck))
    assert not (tmp_path / "g").exists()


def test_row15_out_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "out"
    f.write_text("keep")
    refused(capsys, "export", "--checkpoint", CKPT, "--out", f, names=f"--out {f}",
            says="is a file")
    refused(capsys, "train", "--epochs", "1", "--out", f, names=f"--out {f}", says="is a file")
    assert f.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_out_that_is_a_symlink_is_refused(tmp_path, capsys):
    out = golden_like(tmp_path)
    capsys.readouterr()
    link = tmp_path / "link"
    link.symlink_to(out)
    before = tree(tmp_path)
    for argv in (["export", "--checkpoint", CKPT], ["train", "--epochs", "1"]):
        refused(capsys, *argv, "--out", link, names=f"--out {link}", says="symbolic link")
    assert tree(tmp_path) == before and link.is_symlink()


def test_row15_read_only_out_is_refused_before_work(tmp_path, capsys, monkeypatch):
    """As root os.access says every folder is writable, so the check is driven through it."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro
                        else real(p, mode, **kw))
    for argv in (["export", "--checkpoint", CKPT], ["train", "--epochs", "1"]):
        refused(capsys, *argv, "--out", ro / "g", names=str(ro / "g"), says="not writable")
    assert list(ro.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write a mode-0555 folder")
def test_row15_read_only_out_for_real(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        refused(capsys, "export", "--checkpoint", CKPT, "--out", ro / "g", names=str(ro / "g"),
                says="not writable")
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("flag, value", [("--pool-bits", "1"), ("--pool-bits", "33"),
                                         ("--pool-bits", "x"), ("--images", "0"),
                                         ("--images", "361")])
def test_row15_export_refuses_bad_numbers(tmp_path, capsys, flag, value):
    refused(capsys, "export", "--checkpoint", CKPT, flag, value, "--out", tmp_path / "g",
            names=flag)
    assert list(tmp_path.iterdir()) == []


def test_debug_shows_the_traceback(tmp_path, capsys):
    ck = checkpoint_copy(tmp_path, weights=b"")
    refused(capsys, "info", "--checkpoint", ck, names="weights.pt")
    from model.checkpoint import CheckpointError
    for argv in (["--debug", "info", "--checkpoint", str(ck)],
                 ["info", "--checkpoint", str(ck), "--debug"]):
        with pytest.raises(CheckpointError):
            main(argv)


def test_no_command_is_one_error_line(capsys):
    rc, err, errors = run(capsys)
    assert rc == 2 and len(errors) == 1 and "command" in errors[0], err


# ---- row 17: ordinary permissions --------------------------------------------------------------

def test_row17_golden_directory_has_ordinary_permissions(tmp_path, capsys):
    out = golden_like(tmp_path)
    mask = _umask()
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~mask)
    for f in out.iterdir():
        assert oct(f.stat().st_mode & 0o777) == oct(0o666 & ~mask), f.name
    capsys.readouterr()
