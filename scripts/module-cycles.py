#!/usr/bin/env python3
"""Fails when modules of a crate import each other in a circle.

Called by `make test`. For each crate (app, server) it reads every `crate::a::b` path in the
source, outside comments, maps it to the module file that defines it, and looks for a cycle
among the files. A module may use its own submodules and its parent, which is how Rust
nests them; anything else that leads back to where it started is a cycle.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PATH = re.compile(r"\bcrate((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\bcrate((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}")


def module_of(src: pathlib.Path, file: pathlib.Path) -> tuple[str, ...]:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def without_comments(text: str) -> str:
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def crate_graph(src: pathlib.Path) -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    files = [f for f in src.rglob("*.rs")]
    modules = {module_of(src, f): f for f in files}
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {m: set() for m in modules}

    def resolve(path: tuple[str, ...]) -> tuple[str, ...] | None:
        # The longest prefix of the path that is a module file.
        for end in range(len(path), 0, -1):
            if path[:end] in modules:
                return path[:end]
        return None

    for module, file in modules.items():
        text = without_comments(file.read_text())
        paths = [tuple(p.strip(":").split("::")) for p in PATH.findall(text)]
        for prefix, inner in GROUP.findall(text):
            for item in inner.split(","):
                item = item.strip().split(" as ")[0].split("::")[0].strip()
                if item and item != "self":
                    paths.append(tuple(prefix.strip(":").split("::")) + (item,))
        for path in paths:
            target = resolve(path)
            if target is None or target == module:
                continue
            # Parents and children are how modules nest, not a dependency between peers.
            if target == module[: len(target)] or module == target[: len(module)]:
                continue
            graph[module].add(target)
    return graph


def cycles(graph):
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def main() -> int:
    failed = 0
    for crate in ("app", "server"):
        graph = crate_graph(ROOT / crate / "src")
        for cycle in cycles(graph):
            failed += 1
            print(f"{crate}: " + " -> ".join("::".join(m) or "crate" for m in cycle))
        print(f"{crate}: {len(graph)} modules, {sum(map(len, graph.values()))} imports between them")
    if failed:
        print(f"{failed} import cycles: move what both sides need into one of them, or below both")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
