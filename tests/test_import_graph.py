"""The import graph of hw/, model/ and sim/ (every ``import`` statement, module-level and inside
functions, relative imports resolved; parsed with ``ast``, nothing is imported):

- ``hw.rtl`` (everything that elaborates to Verilog) imports nothing from ``hw.cost``,
  ``hw.synth`` or ``hw.cli``;
- ``hw.cost`` reads latencies and widths from ``hw.rtl``/``hw.config`` and never imports the
  synthesis flow (``hw.synth.flow``, ``hw.synth.sweep``) or ``hw.cli`` (``hw.paths`` is fine);
- nothing in ``hw`` imports ``model`` except :data:`HW_MAY_IMPORT_MODEL` (the network tracer);
- ``model`` imports from ``hw`` only :data:`MODEL_MAY_IMPORT_HW` (the op description and file);
- ``hw`` never imports ``sim``;
- no import cycle runs through both ``model`` and ``hw``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("hw", "model", "sim")

#: the one place in hw that reads the model package (it traces a network's ops)
HW_MAY_IMPORT_MODEL = {"hw.cost.network"}
#: what model may import from hw: the op description and its file format
MODEL_MAY_IMPORT_HW = {"hw.jobs", "hw.ops", "hw.opfile", "hw.outfiles"}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_edges(root: Path, packages=PACKAGES) -> list[tuple[str, str, str, int]]:
    """(importer, imported module, file, line) of every import of a module of ``packages``
    in the .py files under ``root/<package>``."""
    files = {module_name(root, p): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))
             if ".venv" not in p.parts and "__pycache__" not in p.parts}
    known = set(files)
    edges = []
    for src, path in files.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:   # relative: from the package of src, up level - 1 more
                    base = src.split(".") if is_pkg else src.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module
                for a in node.names:   # ``from pkg import sub`` imports the submodule pkg.sub
                    sub = f"{mod}.{a.name}"
                    targets.append(sub if sub in known else mod)
            for t in targets:
                if t.split(".")[0] in packages:
                    edges.append((src, t, str(path.relative_to(root)), node.lineno))
    return edges


def _cycles_across(edges, a="model", b="hw") -> list[list[str]]:
    """The strongly connected components of the module graph that hold modules of both
    packages ``a`` and ``b`` (an import cycle through both)."""
    graph: dict[str, set[str]] = {}
    for src, dst, _, _ in edges:
        graph.setdefault(src, set()).add(dst)
        graph.setdefault(dst, set())
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if any(_under(m, a) for m in comp) and any(_under(m, b) for m in comp):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def forbidden_edges(edges) -> list[str]:
    """One line ``file:line: importer -> imported (rule)`` per forbidden edge."""
    bad = []
    for src, dst, path, line in edges:
        why = None
        if _under(src, "hw.rtl") and any(_under(dst, p) for p in ("hw.cost", "hw.synth", "hw.cli")):
            why = "hw.rtl imports nothing from hw.cost, hw.synth or hw.cli"
        elif _under(src, "hw.cost") and any(_under(dst, p) for p in
                                            ("hw.synth.flow", "hw.synth.sweep", "hw.cli")):
            why = "hw.cost does not import the synthesis flow or the CLI"
        elif _under(src, "hw") and _under(dst, "model") and src not in HW_MAY_IMPORT_MODEL:
            why = f"only {', '.join(sorted(HW_MAY_IMPORT_MODEL))} in hw imports model"
        elif _under(src, "hw") and _under(dst, "sim"):
            why = "hw never imports sim"
        elif _under(src, "model") and _under(dst, "hw") and dst not in MODEL_MAY_IMPORT_HW:
            why = f"model imports from hw only {', '.join(sorted(MODEL_MAY_IMPORT_HW))}"
        if why:
            bad.append(f"{path}:{line}: {src} -> {dst} ({why})")
    for comp in _cycles_across(edges):
        bad.append("import cycle through model and hw: " + ", ".join(comp))
    return bad


def test_the_import_graph_has_no_forbidden_edge():
    edges = import_edges(REPO)
    srcs = {e[0] for e in edges}
    assert {"hw.rtl.top", "hw.cost.network", "model.trace", "sim.runner"} <= srcs  # not vacuous
    bad = forbidden_edges(edges)
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


@pytest.mark.parametrize("src_file, code, line, rule", [
    ("hw/rtl/top.py", "def f():\n    from ..cost import cycles\n", 4, "hw.rtl imports nothing"),
    ("hw/cost/x.py", "import hw.synth.flow\n", 3, "synthesis flow"),
    ("hw/cost/x.py", "from ..cli import common\n", 3, "synthesis flow or the CLI"),
    ("hw/ops.py", "def f():\n    import model\n", 4, "in hw imports model"),
    ("hw/config.py", "from sim import runner\n", 3, "hw never imports sim"),
    ("model/x.py", "from hw.config import ArrayConfig\n", 3, "model imports from hw only"),
])
def test_a_forbidden_edge_is_reported_with_file_and_line(tmp_path, src_file, code, line, rule):
    """The checker on a small made-up tree: a forbidden import (also inside a function, also
    relative) is reported as file:line."""
    for f in ("hw/__init__.py", "hw/rtl/__init__.py", "hw/cost/__init__.py", "hw/cost/cycles.py",
              "hw/cli/__init__.py", "hw/cli/common.py", "hw/synth/__init__.py",
              "hw/synth/flow.py", "hw/config.py", "hw/ops.py", "model/__init__.py",
              "sim/__init__.py", "sim/runner.py"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).touch()
    (tmp_path / src_file).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / src_file).write_text("import os\n\n" + code)
    bad = forbidden_edges(import_edges(tmp_path))
    assert len(bad) == 1 and bad[0].startswith(f"{src_file}:{line}: ") and rule in bad[0], bad


def test_an_import_cycle_through_model_and_hw_is_reported(tmp_path):
    for f, code in (("hw/__init__.py", ""), ("hw/cost/__init__.py", ""),
                    ("hw/cost/network.py", "def f():\n    import model.trace\n"),
                    ("hw/ops.py", "from .cost import network\n"),
                    ("model/__init__.py", ""), ("model/trace.py", "from hw.ops import x\n"),
                    ("sim/__init__.py", "")):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text(code)
    bad = forbidden_edges(import_edges(tmp_path))
    assert bad == ["import cycle through model and hw: hw.cost.network, hw.ops, model.trace"]
