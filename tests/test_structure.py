"""The package's shape: imports flow down DESIGN.md's layers, no cycles, one small public API.

The import graph is read from the source with ``ast`` (every ``import``,
function-local and ``TYPE_CHECKING`` ones included), so an import that only
runs in some code path still counts. Each failure names the offending edge,
cycle or name.
"""

import ast
import collections
import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mmm_jax"

#: DESIGN.md's layers, highest first: a module may import its own layer and those
#: below. Module prefixes; the longest prefix wins ("mmm_jax" alone is the top-level
#: package's ``__init__``, which re-exports the user-facing names).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry points", ("mmm_jax.cli", "mmm_jax._cli_parser", "mmm_jax.demo")),
    ("workflow", ("mmm_jax", "mmm_jax.workflow", "mmm_jax.run_folder")),
    ("decisions", ("mmm_jax.optimize",)),
    ("analysis", ("mmm_jax.diagnostics",)),
    ("inference", ("mmm_jax.inference",)),
    ("synthetic data", ("mmm_jax.synthetic",)),
    ("model", ("mmm_jax.models", "mmm_jax.calibration")),
    ("kernels", ("mmm_jax.transforms",)),
    ("data", ("mmm_jax.data",)),
    (
        "base",
        ("mmm_jax._typing", "mmm_jax._stats", "mmm_jax._atomic", "mmm_jax._version")
        + ("mmm_jax._dists", "mmm_jax._enums", "mmm_jax._format", "mmm_jax._heartbeat")
        + ("mmm_jax.runtime",),
    ),
]

#: DESIGN.md's rules beyond the order of layers: what a package never reaches, directly
#: or through another module.
NEVER_REACHES = {
    # decisions work on posterior arrays and the kernels' response surface only
    "mmm_jax.optimize": ("mmm_jax.models", "mmm_jax.calibration", "mmm_jax.inference")
    + ("mmm_jax.diagnostics",),
    "mmm_jax.diagnostics": ("mmm_jax.inference",),
    "mmm_jax.transforms": ("numpyro",),
    # the simulator's truth must not come from the code it checks
    "mmm_jax.synthetic": ("mmm_jax.models", "mmm_jax.inference", "mmm_jax.diagnostics")
    + ("mmm_jax.optimize", "numpyro"),
}

#: Exceptions to the layer order and to acyclic packages, listed exactly: an allowance
#: that no longer occurs fails too, so it is deleted when its cause is.
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_PACKAGE_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every ``mmm_jax`` module (or outside top-level package) ``name`` imports, anywhere."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in MODULES else base)
    return {m if m.startswith("mmm_jax") else m.split(".")[0] for m in out}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    assert rank is not None, f"{module} is in no layer of LAYERS: add it"
    return rank


def _package(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node, or a node importing itself."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


def test_no_module_imports_a_layer_above_its_own():
    upward = set()
    for a, targets in GRAPH.items():
        for b in targets:
            if b in MODULES and _layer(b) < _layer(a):
                upward.add((a, b))
    new = sorted(upward - KNOWN_UPWARD)
    assert not new, "imports from a higher layer: " + "; ".join(
        f"{a} ({LAYERS[_layer(a)][0]}) imports {b} ({LAYERS[_layer(b)][0]})" for a, b in new
    )
    stale = sorted(KNOWN_UPWARD - upward)
    assert not stale, f"KNOWN_UPWARD allows imports that are gone, delete them: {stale}"


def test_no_import_cycles_between_modules_or_packages():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
    packages = collections.defaultdict(set)
    for a, targets in GRAPH.items():
        packages[_package(a)].update(_package(b) for b in targets if b in MODULES)
    found = {frozenset(c) for c in _cycles({k: v - {k} for k, v in packages.items()})}
    new = [sorted(c) for c in found - KNOWN_PACKAGE_CYCLES]
    assert not new, "import cycles between packages: " + "; ".join(" <-> ".join(c) for c in new)
    stale = [sorted(c) for c in KNOWN_PACKAGE_CYCLES - found]
    assert not stale, f"KNOWN_PACKAGE_CYCLES lists cycles that are gone, delete them: {stale}"


@pytest.mark.parametrize("source", sorted(NEVER_REACHES))
def test_design_rules_hold_through_every_path(source):
    for start in (m for m in MODULES if m == source or m.startswith(source + ".")):
        seen, todo, via = {start}, [start], {start: None}
        while todo:
            a = todo.pop()
            for b in GRAPH.get(a, ()):
                for banned in NEVER_REACHES[source]:
                    if b == banned or b.startswith(banned + "."):
                        path, node = [b], a
                        while node is not None:
                            path.append(node)
                            node = via[node]
                        pytest.fail(f"{source} reaches {banned}: {' -> '.join(reversed(path))}")
                if b in MODULES and b not in seen:
                    seen.add(b)
                    via[b] = a
                    todo.append(b)


def test_the_graph_reader_sees_function_local_and_relative_imports(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text(
        textwrap.dedent(
            """
            import os
            def f():
                from mmm_jax.optimize import budget
                from mmm_jax import workflow
            if False:
                import mmm_jax.models.config
            """
        )
    )
    assert _imports("mmm_jax.x", mod) == {
        "os",
        "mmm_jax.optimize.budget",
        "mmm_jax.workflow",
        "mmm_jax.models.config",
    }
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"], ["d"]]


def _sources() -> list[tuple[str, str]]:
    root = PACKAGE.parent
    out = [
        (str(f.relative_to(root)), f.read_text())
        for d in ("mmm_jax", "tests", "benchmarks", "experiments")
        for f in sorted((root / d).rglob("*.py"))
    ]
    notebook = json.loads((root / "notebooks" / "nuts_vs_svi.ipynb").read_text())
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    return out + [(f"notebook cell {i}", "".join(c["source"])) for i, c in enumerate(cells)]


def test_every_name_taken_from_mmm_jax_exists():
    """Imports and ``module.name`` uses anywhere (scripts, tests, notebook) name what exists."""
    import importlib

    def has(module: str, name: str) -> bool:
        return hasattr(importlib.import_module(module), name) or f"{module}.{name}" in MODULES

    missing = []
    for where, text in _sources():
        tree = ast.parse(text)
        aliases = {}  # local name -> mmm_jax module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mmm_jax"):
                for a in node.names:
                    if not has(node.module, a.name):
                        missing.append(f"{where}: from {node.module} import {a.name}")
                    elif f"{node.module}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("mmm_jax") and a.asname:
                        aliases[a.asname] = a.name
        rebound = {  # a local variable of the same name shadows the module
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        aliases = {k: v for k, v in aliases.items() if k not in rebound}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and not has(aliases[node.value.id], node.attr)
            ):
                missing.append(f"{where}: {aliases[node.value.id]}.{node.attr}")
    assert not missing, "names that do not exist: " + "; ".join(missing)


# ------------------------------------------------------------------ public names
def _all(module: str) -> list[str]:
    tree = ast.parse(MODULES[module].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == "__all__" for t in node.targets
        ):
            return [ast.literal_eval(e) for e in node.value.elts]
    return []


SUBPACKAGES = sorted(m for m, p in MODULES.items() if p.name == "__init__.py" and m != "mmm_jax")

#: The user-facing names the top level re-exports, each from the one package exporting it.
TOP_LEVEL = {
    "Analysis": "mmm_jax.diagnostics",
    "Fit": "mmm_jax.inference",
    "LiftTests": "mmm_jax.calibration",
    "MMMData": "mmm_jax.data",
    "MediaPriors": "mmm_jax.models",
    "ModelConfig": "mmm_jax.models",
    "RunFolder": "mmm_jax.run_folder",
    "allocate": "mmm_jax.workflow",
    "analyse": "mmm_jax.diagnostics",
    "configure_devices": "mmm_jax.runtime",
    "enable_compilation_cache": "mmm_jax.runtime",
    "fit": "mmm_jax.workflow",
    "fit_nuts": "mmm_jax.inference",
    "fit_svi": "mmm_jax.inference",
    "load_csv": "mmm_jax.data",
    "load_lift_csv": "mmm_jax.calibration",
    "simulate": "mmm_jax.workflow",
}

#: Names two packages export (exactly these; a stale entry fails). ``simulate`` is the
#: what-if of an allocation in the library (``mmm_jax.simulate``) and the maker of
#: data with known truth in the research tooling (``mmm_jax.synthetic.simulate``),
#: which the library never imports.
KNOWN_TWICE = {"simulate": {"mmm_jax.synthetic", "mmm_jax.workflow"}}


def test_no_name_is_exported_by_two_packages():
    owners = collections.defaultdict(set)
    for pkg in SUBPACKAGES:
        for name in _all(pkg):
            owners[name].add(pkg)
    twice = {n: p for n, p in owners.items() if len(p) > 1}
    assert twice == KNOWN_TWICE, f"exported by more than one package: {twice}"


def test_top_level_re_exports_each_user_facing_name_from_its_one_home():
    import mmm_jax

    assert set(mmm_jax.__all__) == {"__version__", *TOP_LEVEL}
    for name, home in TOP_LEVEL.items():
        assert name in _all(home), f"{name} is not exported by {home}"
        module = __import__(home, fromlist=[name])
        assert getattr(mmm_jax, name) is getattr(module, name)
    with pytest.raises(AttributeError, match="no attribute 'summarise'"):
        mmm_jax.summarise  # noqa: B018


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_a_package_exports_exactly_its_all(package):
    module = __import__(package, fromlist=["__all__"])
    exported = set(module.__all__)
    for name in exported:
        assert hasattr(module, name), f"{package}.__all__ names {name}, which it lacks"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"
    }
    assert public == exported, f"{package} holds public names outside __all__: {public - exported}"


def test_public_name_count_is_small():
    """The library's public names, counted (the issue asks for about forty in all).

    ``mmm_jax.synthetic`` is research tooling the library never imports, so it
    is not counted. Options of a few kinds are taken by name (``likelihood=
    "student_t"``, ``utility="cvar:0.05"``, ``guide="auto_normal"``), so their
    enums and the utility factories stay in their modules.
    """
    counts = {pkg: len(_all(pkg)) for pkg in SUBPACKAGES if pkg != "mmm_jax.synthetic"}
    assert sum(counts.values()) <= 41, counts


def test_importing_mmm_jax_is_cheap_and_changes_no_jax_setting():
    script = textwrap.dedent(
        """
        import json, pkgutil, sys, importlib
        import mmm_jax
        heavy = sorted(m for m in ("jax", "numpy", "pandas", "numpyro") if m in sys.modules)
        import jax
        before = {k: repr(v) for k, v in jax.config.values.items()}
        for name in mmm_jax.__all__:
            getattr(mmm_jax, name)
        for info in pkgutil.walk_packages(mmm_jax.__path__, "mmm_jax."):
            importlib.import_module(info.name)
        after = {k: repr(v) for k, v in jax.config.values.items()}
        changed = sorted(k for k in before if before[k] != after.get(k))
        print(json.dumps({"heavy": heavy, "changed": changed}))
        """
    )
    env_keys = ("PATH", "HOME", "XLA_FLAGS", "JAX_PLATFORMS", "MPLBACKEND")
    import os

    env = {k: os.environ[k] for k in env_keys if k in os.environ}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"heavy": [], "changed": []}


def test_longest_files_name_test_files_that_exist():
    # tests/conftest.py sorts these to the front of `make test`; a renamed or
    # deleted file would silently drop out of the order.
    from tests.conftest import LONGEST_FILES

    root = Path(__file__).resolve().parents[1]
    missing = [f for f in LONGEST_FILES if not (root / f).is_file()]
    assert not missing, f"LONGEST_FILES names files that do not exist: {missing}"
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)
    assert all(Path(f).name.startswith("test_") for f in LONGEST_FILES)
