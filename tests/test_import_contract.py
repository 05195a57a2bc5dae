"""The layout is enforced, not just described: imports point one way along the data flow,
there is no import cycle (``if TYPE_CHECKING:`` imports included), the demo server stands
alone, a function-level import of the package's own modules exists only where it is listed
below with its reason, every module declares ``__all__``, and ``import nbstream`` stays light.

A short AST pass over the sources (no import-linter): it reads every module without
importing it, so a violation is reported even in code that never runs in the tests.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nbstream"

# Lowest first. A module may import modules of its own layer or of a lower one, never of a
# higher one. The package itself (``nbstream/__init__.py``, the facade) sits on top.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("leaves", ("nbstream.errors", "nbstream.events", "nbstream.sse", "nbstream._secrets", "nbstream._template",
                "nbstream._version", "nbstream._params")),
    ("wire", ("nbstream.wire",)),
    ("run", ("nbstream.run",)),
    ("engine and data", ("nbstream.engine", "nbstream.data")),
    ("session", ("nbstream.session", "nbstream.settings")),
    ("views", ("nbstream.views",)),
    ("api", ("nbstream.api",)),
    ("sweeps", ("nbstream.sweeps",)),
    ("front ends", ("nbstream.magic", "nbstream.cli", "nbstream.__main__")),
    ("package", ("nbstream",)),
)
DEMO = "nbstream.demo"

# Function-level imports of the package's own modules: (importer, imported) -> why it is lazy.
# Only lazy loading of something heavy and optional belongs here.
LAZY: dict[tuple[str, str], str] = {
    ("nbstream", "nbstream.demo"):
        "module __getattr__: the demo server loads on first use of nbstream.demo",
    ("nbstream", "nbstream.magic"):
        "module __getattr__: the magics (and IPython) load when IPython asks for the extension",
    ("nbstream.engine.config", "nbstream.demo"):
        "the default-endpoint hook: the embedded demo server starts only when no base_url is configured",
    ("nbstream.cli._serve", "nbstream.demo"):
        "`nbstream serve` is the only command that runs the demo server (and checks its knobs)",
    ("nbstream.views.attach", "nbstream.views.live"):
        "the notebook view (IPython.display) loads only inside a Jupyter kernel",
    ("nbstream.views.sweep_view", "nbstream.views.live"):
        "the sweep's notebook widget (IPython.display) loads only inside a Jupyter kernel",
    ("nbstream.views.live", "nbstream.views.widget"):
        "anywidget and ipywidgets load only when a live widget is shown",
    # The Run's doors to the layers above it, which the README documents as its methods
    # (run.chunks, run.summary, run.save, run.plot, and its rich display in a notebook):
    # every layer below uses the Run, so it reaches up only on first use.
    ("nbstream.run", "nbstream.data.record"): "run.chunks / run.summary: the tables (pandas on first use)",
    ("nbstream.run", "nbstream.engine.replay"): "run.save: the recording writer lives with the replayer",
    ("nbstream.run", "nbstream.views.plots"): "run.plot(): matplotlib loads with the first picture",
    ("nbstream.run", "nbstream.views.markdown"): "Run._repr_markdown_/_repr_html_: the display of a Run",
    ("nbstream.run", "nbstream.views.render"): "Run._repr_markdown_/_repr_html_: the display of a Run",
    ("nbstream.run", "nbstream.views.status"): "Run._repr_markdown_/_repr_html_: the display of a Run",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool
    type_checking: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _target(importer: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(name: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

    def walk(node: ast.AST, in_function: bool, type_checking: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(name, alias.name, child.lineno, in_function, type_checking)
            elif isinstance(child, ast.ImportFrom):
                base = _target(name, child, path.name == "__init__.py")
                for alias in child.names:
                    full = f"{base}.{alias.name}"  # `from nbstream.views import live` names a module
                    yield Import(name, full if full in MODULES else base, child.lineno, in_function, type_checking)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from walk(ast.Module(body=child.body, type_ignores=[]), in_function, True)
                yield from walk(ast.Module(body=child.orelse, type_ignores=[]), in_function, type_checking)
            else:
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                yield from walk(child, nested, type_checking)

    yield from walk(tree, False, False)


OWN = [imp for name, path in MODULES.items() for imp in _imports(name, path)
       if imp.imported == "nbstream" or imp.imported.startswith("nbstream.")]
MODULE_LEVEL = [imp for imp in OWN if not imp.in_function]


def _in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _layer(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if module in prefixes or any(_in(module, p) for p in prefixes if p != "nbstream"):
            return rank
    return None


def _where(imp: Import) -> str:
    kind = "function-level " if imp.in_function else "TYPE_CHECKING " if imp.type_checking else ""
    return f"{MODULES[imp.importer].relative_to(PACKAGE.parent)}:{imp.line}: {kind}import of {imp.imported}"


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in MODULES if not _in(m, DEMO) and _layer(m) is None]
    assert not unplaced, f"add these modules to a layer in {__name__}.LAYERS: {unplaced}"


def test_imports_point_down_the_layers() -> None:
    """leaves → wire → run → engine/data → session → views → api → magic/CLI → the package."""
    upward = [
        f"{_where(imp)} ({LAYERS[_layer(imp.importer) or 0][0]} may not import {LAYERS[_layer(imp.imported) or 0][0]})"
        for imp in MODULE_LEVEL
        if not _in(imp.importer, DEMO) and not _in(imp.imported, DEMO)
        and (_layer(imp.importer) or 0) < (_layer(imp.imported) or 0)
    ]
    assert not upward, "\n".join(upward)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_including_type_checking_imports() -> None:
    edges: dict[str, set[str]] = {}
    for imp in MODULE_LEVEL:
        if imp.imported != imp.importer and imp.imported in MODULES:
            edges.setdefault(imp.importer, set()).add(imp.imported)
    # a function-level import that is not a documented lazy load counts as an edge too
    for imp in OWN:
        if imp.in_function and (imp.importer, imp.imported) not in LAZY and imp.imported in MODULES:
            edges.setdefault(imp.importer, set()).add(imp.imported)
    assert _cycles(edges) == []


def test_function_level_imports_of_own_modules_are_only_the_documented_lazy_loads() -> None:
    undocumented = [_where(imp) for imp in OWN if imp.in_function and (imp.importer, imp.imported) not in LAZY]
    assert not undocumented, "\n".join(undocumented)


def test_every_documented_lazy_load_still_exists() -> None:
    present = {(imp.importer, imp.imported) for imp in OWN if imp.in_function}
    assert sorted(set(LAZY) - present) == []


def test_the_demo_server_imports_nothing_from_the_core() -> None:
    leaks = [_where(imp) for imp in OWN if _in(imp.importer, DEMO) and not _in(imp.imported, DEMO)]
    assert not leaks, "\n".join(leaks)


def test_the_core_imports_the_demo_only_lazily_through_its_hooks() -> None:
    direct = [_where(imp) for imp in OWN if not _in(imp.importer, DEMO) and _in(imp.imported, DEMO)
              and (not imp.in_function or (imp.importer, imp.imported) not in LAZY)]
    assert not direct, "\n".join(direct)
    core_hooks = {importer for importer, imported in LAZY
                  if _in(imported, DEMO) and importer != "nbstream" and not _in(importer, "nbstream.cli")}
    assert len(core_hooks) == 1, core_hooks


def _declares_all(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


def test_every_module_declares_its_public_names() -> None:
    """``__main__`` modules are scripts and export nothing."""
    missing = [str(path.relative_to(PACKAGE.parent)) for name, path in MODULES.items()
               if not name.endswith("__main__") and not _declares_all(path)]
    assert not missing, f"no __all__ in: {missing}"


def test_every_name_in_a_modules_all_exists() -> None:
    import importlib

    wrong = []
    for name in MODULES:
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        wrong += [f"{name}.{item}" for item in getattr(module, "__all__", ()) if not hasattr(module, item)]
    assert not wrong


HEAVY = ("IPython", "ipywidgets", "anywidget", "nbstream.demo", "nbstream.magic", "matplotlib", "pandas")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_nbstream_loads_no_ipython_demo_server_matplotlib_or_pandas() -> None:
    assert _loaded_after("import nbstream") == []


def test_the_heavy_parts_load_when_used() -> None:
    """The probe above can fail: the same probe sees each part once it is used."""
    assert _loaded_after("import nbstream; nbstream.demo") == ["nbstream.demo"]
    assert "pandas" in _loaded_after("import nbstream; nbstream.runs()")
    loaded = _loaded_after("import IPython, nbstream; nbstream.load_ipython_extension")
    assert "IPython" in loaded and "nbstream.magic" in loaded
