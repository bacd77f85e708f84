"""The project's packages form layers and every import points down (docs/architecture.md).

The import graph is computed from the source: module-level and function-level imports of every
module of every package, migrations, management commands and tests left out (those sit on top of
everything by nature). A package lower in ``LAYERS`` never imports a higher one, so the graph
has no cycle, and the foundation imports no other package of the project.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top. A dotted name is a part of an app drawn as its own layer.
LAYERS = (
    "core",
    "identity",
    "operatordb",
    "accounts",
    "outlets",
    "subscribers",
    "compliance.models",
    "compliance.reconciliation",
    "compliance.workflow",
    "compliance",
    "holders",
    "privacy",
    "reports",
    "risk",
    "registration_portal",
)
PACKAGES = sorted({layer.split(".")[0] for layer in LAYERS})
SKIPPED_PARTS = {"migrations", "management", "tests", "__pycache__"}


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_of(module: str) -> str | None:
    """The most specific layer a dotted module name belongs to."""
    best = None
    for layer in LAYERS:
        inside = module == layer or module.startswith(layer + ".")
        if inside and (best is None or len(layer) > len(best)):
            best = layer
    return best


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module) for every module the file imports, relative ones resolved; for
    ``from package import name`` the sub-module when ``name`` is one, else the package."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((node.lineno, sub if _is_module(sub) else target))
    return found


def _source_files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not SKIPPED_PARTS.intersection(path.relative_to(ROOT).parts):
                yield path


def import_edges(paths=None, root: Path = ROOT) -> dict[tuple[str, str], list[str]]:
    """(from layer, to layer) -> where, for every import crossing layers (of the project's
    source files, or of ``paths`` under ``root``)."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in _source_files() if paths is None else paths:
        source = _layer_of(_module_name(path, root))
        for line, target in _imports(path, root):
            layer = _layer_of(target)
            if layer is None or layer == source:
                continue
            edges.setdefault((source, layer), []).append(
                f"{path.relative_to(root)}:{line} imports {target}"
            )
    return edges


def _cycles(edges) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def _app_level(edges):
    return {
        (a.split(".")[0], b.split(".")[0]): where
        for (a, b), where in edges.items()
        if a.split(".")[0] != b.split(".")[0]
    }


def test_every_package_is_in_a_layer():
    """A new top-level package of the project must be placed in LAYERS (and the doc)."""
    apps = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench", "loadtest", "scripts"}
    }
    assert apps == set(PACKAGES)


def test_the_app_import_graph_has_no_cycle():
    assert _cycles(_app_level(import_edges())) == []


def test_the_layer_import_graph_has_no_cycle():
    assert _cycles(import_edges()) == []


def test_imports_point_down_only():
    rank = {layer: index for index, layer in enumerate(LAYERS)}
    upward = [
        where
        for (source, target), wheres in sorted(import_edges().items())
        if rank[target] > rank[source]
        for where in wheres
    ]
    assert upward == []


def test_the_foundation_imports_no_app():
    assert [
        where
        for (source, _target), wheres in import_edges().items()
        if source == "core"
        for where in wheres
    ] == []


@pytest.mark.parametrize("reach", ["import_module", "__import__("])
def test_no_dynamic_import_dodges_the_layers(reach):
    """Lower layers learn of higher ones through hooks the higher ones register, never by
    importing them by name at run time."""
    offenders = [
        str(path.relative_to(ROOT)) for path in _source_files() if reach in path.read_text()
    ]
    assert offenders == []


def test_the_graph_sees_an_upward_import(tmp_path):
    """The check itself bites: an import of a higher layer from a lower one is reported (the
    probe is written in a copy of the layout, never in the source tree other tests import)."""
    module = tmp_path / "core" / "_layer_probe.py"
    module.parent.mkdir()
    module.write_text("def probe():\n    from reports import models  # noqa: F401\n")
    edges = import_edges([module], root=tmp_path)
    assert edges == {("core", "reports"): ["core/_layer_probe.py:2 imports reports.models"]}
    assert _cycles({("a", "b"): [], ("b", "a"): []}) == [["a", "b", "a"]]
