"""Imports flow one way: no two modules of a floor import each other, not even from a function body
(an import moved into a function to dodge a cycle is still a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "storyteller"
FLOORS = ("storyteller.data", "storyteller.engines", "storyteller.model", "storyteller.world", "storyteller.finetune",
          "storyteller.api")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every storyteller module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import module`
    return {m for m in found if m.startswith("storyteller")}


def import_graph(floors: tuple[str, ...]) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    inside = {m for m in modules if m.startswith(floors)}
    return {m: (imports_of(modules[m]) & inside) - {m} for m in inside}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in `graph`, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cycle_finder_sees_a_cycle_through_a_function_body():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("floor", FLOORS)
def test_no_import_cycles(floor):
    graph = import_graph((floor,))
    assert graph, f"no modules found under {floor}"
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_rooms_import_one_way():
    """Between rooms (engines, model, data, finetune, ui ...) imports flow one way: engines never
    reach up into model, model/card never back into model/build's callers, and so on."""
    graph = import_graph(("storyteller",))
    rooms: dict[str, set[str]] = {}
    for module, deps in graph.items():
        room = ".".join(module.split(".")[:2])
        rooms.setdefault(room, set()).update(".".join(d.split(".")[:2]) for d in deps)
    rooms = {r: {d for d in deps if d in rooms and d != r} for r, deps in rooms.items()}
    assert cycle(rooms) is None, " -> ".join(cycle(rooms))


def test_one_parser_of_fine_tune_ids_and_one_hub_id_pattern():
    """`ft:` ids are read in engines/ids.py only, and so is the shape of a Hugging Face id."""
    import re

    for path in PACKAGE.rglob("*.py"):
        if path.name == "ids.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""startswith\(\s*["']ft:|==\s*["']ft["']|split\(["']:["']\)\[1\]""", text), path
        assert not re.search(r"\[\\w\.-\]\*/\[\\w\.-\]\+", text), path  # an org/name pattern of its own
