"""Imports run one way (README.md, "Layout"): each part of the package may import
only the parts listed for it here, read from the source with `ast`, so an import that points
up a layer (a service importing the HTTP edge, the SDK importing the server) fails this test
before a reader meets it. A new module must be given its place here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import roboscope

PACKAGE = Path(roboscope.__file__).parent

LEAVES = {
    *("roboscope", "lazy", "errors", "files", "ids", "metrics", "processes", "envfile", "logs"),
    "rate_budgets",
}
"""Small modules below every layer: the package's constants, errors, files, metrics, logs,
the rate budgets' description."""

MAY_IMPORT: dict[str, set[str]] = {
    **{leaf: set() for leaf in LEAVES},
    "redis_endpoints": set(),
    "settings": {"redis_endpoints", "rate_budgets"},
    "wire": {"lazy", "rate_budgets"},
    "db": {"errors", "files", "metrics"},
    "realtime": {"errors", "files", "metrics", "processes", "redis_endpoints"},
    "secret_key": {"files", "settings"},
    "background": {"realtime"},
    "services": LEAVES
    | {"background", "db", "realtime", "secret_key", "settings", "wire", "redis_endpoints"},
    "server": LEAVES
    | {"background", "db", "realtime", "secret_key", "services", "settings", "wire"},
    "client": {"roboscope", "lazy", "wire"},
    "cli": {"roboscope", "cli_globals"},
    "cli_globals": {"roboscope", "envfile"},
    "cli_output": {"roboscope", "cli_globals", "client", "wire"},
    "cli_inputs": {"roboscope", "cli_globals", "client", "wire"},
    "cli_client": {"roboscope", "cli_globals", "cli_inputs", "cli_output", "client", "wire"},
    "cli_watch": {"roboscope", "cli_globals", "cli_output", "client", "wire"},
    "cli_database": LEAVES | {"cli_globals", "cli_output", "db", "settings"},
    "cli_server": LEAVES
    | {
        "cli_database",
        "cli_globals",
        "cli_output",
        "realtime",
        "server",
        "services",
        "settings",
        "wire",
        "redis_endpoints",
    },
    "__main__": {"cli"},
}
"""Each part (a subpackage, or a top-level module) and the other parts it may import. The
SDK and the client commands never reach the server, the database or Redis; the rules
(services) never reach the HTTP edge; the data layers (db, realtime) know no rule."""


def _part(module: str) -> str:
    """`roboscope.services.locks` -> `services`; `roboscope` -> `roboscope`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_of(path: Path) -> tuple[str, str]:
    """The module's dotted name and the package its relative imports start from."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imports(source: str, package: str) -> Iterator[tuple[int, str]]:
    """Every module `source` (a module of `package`) imports, with the line (an imported name
    counts as its module: `from roboscope import API_PREFIX` imports `roboscope`)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if node.module is None or target.count(".") == 0:
                # `from . import x` / `from roboscope import x`: x may be a module or a name.
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    is_module = (PACKAGE.parent / Path(*candidate.split("."))).is_dir() or (
                        PACKAGE.parent / Path(*candidate.split("."))
                    ).with_suffix(".py").is_file()
                    yield node.lineno, candidate if is_module else target
            else:
                yield node.lineno, target


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def test_every_module_has_a_place() -> None:
    unplaced = {_part(_module_of(p)[0]) for p in _sources()} - MAY_IMPORT.keys()
    assert not unplaced, f"give these parts their place in MAY_IMPORT: {sorted(unplaced)}"


def _wrong_imports(module: str, package: str, source: str) -> list[str]:
    here = _part(module)
    return [
        f"line {line} imports {target}"
        for line, target in _imports(source, package)
        if target.startswith("roboscope")
        and _part(target) != here
        and _part(target) not in MAY_IMPORT.get(here, set())
    ]


def test_imports_run_one_way() -> None:
    wrong = []
    for path in _sources():
        module, package = _module_of(path)
        source = path.read_text(encoding="utf-8")
        wrong += [f"{module}: {w}" for w in _wrong_imports(module, package, source)]
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_check_sees_imports_up_a_layer() -> None:
    """Relative and absolute imports alike (else the test above proves nothing)."""
    services = "roboscope.services.locks", "roboscope.services"
    assert _wrong_imports(*services, "from ..server.app import create_app\n")
    assert _wrong_imports(*services, "import roboscope.server.app\n")
    assert _wrong_imports(*services, "from .. import server\n")
    assert not _wrong_imports(*services, "from ..db import markers\nfrom . import changes\n")
    client = "roboscope.client._base", "roboscope.client"
    assert _wrong_imports(*client, "from ..db.engine import Database\n")
    assert not _wrong_imports(*client, "from .. import API_PREFIX\n")
