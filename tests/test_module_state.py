"""No module of the package holds mutable state in a global: what nbstream remembers
lives in a Session. An AST scan of ``nbstream/`` finds module-level assignments of
mutable containers, locks, executors, clients or instances of the package's own classes,
any ``global`` statement, and any mutation of an UPPER_CASE constant table; the only
module-level state allowed is the default-session slot, the process-wide secret
registry, the wire-format registry and the count of running streams that keeps the
garbage collector's old objects frozen (each says why in its docstring)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nbstream"

# (module, name): the only module-level objects that hold state
ALLOWED = {
    ("session.py", "_SLOT"),  # the default session and the live sessions (for the fork hook)
    ("_secrets.py", "_REGISTRY"),  # a key is a secret for the whole process
    ("wire/registry.py", "FORMATS"),  # the wire formats: code the process speaks, the extension point
    ("engine/gcfreeze.py", "_FREEZER"),  # the garbage collector is the process's: so is its count of streams
    ("engine/gcfreeze.py", "_PAUSE"),  # ... and its count of parses running with collection off
}
MUTABLE_CALLS = {"set", "dict", "list", "deque", "defaultdict", "OrderedDict", "Counter", "bytearray",
                 "Lock", "RLock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "local",
                 "ThreadPoolExecutor", "ProcessPoolExecutor", "WeakKeyDictionary", "WeakValueDictionary",
                 "WeakSet", "AsyncClient", "Client", "new_event_loop", "Queue", "ContextVar"}
MUTATORS = {"add", "append", "extend", "insert", "update", "setdefault", "pop", "popitem", "clear",
            "remove", "discard", "__setitem__"}
MUTABLE_LITERALS = (ast.Dict, ast.List, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def _callee(node: ast.expr) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_constant_name(name: str) -> bool:
    bare = name.strip("_")
    return bare.isupper() or (name.startswith("__") and name.endswith("__"))


def _findings(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own_classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    found: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            name = ast.unparse(target)
            if (rel, name) in ALLOWED or value is None:
                continue
            call = _callee(value) if isinstance(value, ast.Call) else ""
            if call in MUTABLE_CALLS - {"set", "dict", "list"} or call in own_classes:
                found.append(f"{rel}:{node.lineno} {name} = {call}(...)")
            elif (isinstance(value, MUTABLE_LITERALS) or call in {"set", "dict", "list"}) \
                    and not _is_constant_name(name):
                found.append(f"{rel}:{node.lineno} {name} holds a mutable container")
    modules = {alias.asname or alias.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
               and (n.module or "").startswith("nbstream") for alias in n.names}
    constants = {ast.unparse(t) for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                 for t in (n.targets if isinstance(n, ast.Assign) else [n.target])}
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found.append(f"{rel}:{node.lineno} global {', '.join(node.names)}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in MUTATORS and isinstance(node.func.value, ast.Name)
              and node.func.value.id in constants and (rel, node.func.value.id) not in ALLOWED):
            found.append(f"{rel}:{node.lineno} {node.func.value.id}.{node.func.attr}(...) mutates module state")
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if (isinstance(target, (ast.Subscript, ast.Attribute)) and isinstance(target.value, ast.Name)
                        and target.value.id in constants and (rel, target.value.id) not in ALLOWED
                        and node not in tree.body):
                    found.append(f"{rel}:{node.lineno} assigns into module-level {target.value.id}")
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id in modules):
                    found.append(f"{rel}:{node.lineno} sets {ast.unparse(target)} in another module")
    return found


def test_no_module_holds_mutable_state_outside_the_session():
    findings = [f for path in sorted(PACKAGE.rglob("*.py")) for f in _findings(path)]
    assert findings == []


def test_the_scan_finds_each_kind_of_module_state(tmp_path):
    """The scan itself can fail: each form of module state in a sample is reported."""
    sample = PACKAGE / "_module_state_sample.py"
    sample.write_text(
        "import threading\n"
        "from nbstream.engine import config as _config\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "class Box:\n    pass\n"
        "_cache = {}\n"
        "_seen: set[str] = set()\n"
        "_lock = threading.Lock()\n"
        "_pool = ThreadPoolExecutor(1)\n"
        "_box = Box()\n"
        "TABLE = {'a': 1}\n"
        "def f():\n    global _cache\n    TABLE.update(b=2)\n    TABLE['c'] = 3\n"
        "    _config.DEMO_NOTICE = 'x'\n",
        encoding="utf-8")
    try:
        found = _findings(sample)
    finally:
        sample.unlink()
    kinds = " | ".join(found)
    for expected in ("_cache holds", "_seen holds", "_lock = Lock", "_pool = ThreadPoolExecutor",
                     "_box = Box", "global _cache", "TABLE.update", "assigns into module-level TABLE",
                     "sets _config.DEMO_NOTICE in another module"):
        assert expected in kinds, (expected, found)
    assert not any("TABLE holds" in f for f in found)  # an UPPER_CASE table nobody changes is a constant


def test_the_allowed_state_says_why_in_its_docstring():
    import nbstream._secrets
    import nbstream.session

    assert "Process-wide on purpose" in (nbstream._secrets._Registry.__doc__ or "")
    assert "The only module-level mutable state" in (nbstream.session._Slot.__doc__ or "")
