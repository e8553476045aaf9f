#!/usr/bin/env python3
"""Fails when the top-level modules of the library import each other in a cycle.

A top-level module is a file or folder directly under src/ (`check`, `config`,
`report`, ...): everything below it (`check::rpc::body`) counts as part of it.
An edge A -> B is any path in A's code that names B:

- `use` trees (nested braces, `self`, `super::`, `crate::`, `pub use`),
- paths written inline (`crate::report::NodeStatus::Timeout`),
- `super::` paths, resolved from the file's own module,
- names the crate root re-exports (`crate::multicall::Via` goes through
  lib.rs's `pub use check::multicall`, so it is an edge to `check`), and
  re-exports of other modules (`crate::cli::Format` names `cli`, and also the
  module that `cli` re-exports `Format` from).

Test code counts too: a `#[cfg(test)]` module that imports upwards is still
an import the layers must allow. Comments and string literals are ignored.

Prints the edges, then any cycle (exit 1), else the modules by layer (lowest
first: each imports only from the layers below it).

`super::` and `self::` inside an inline module (`mod tests { ... }`) start
from that inline module, not from the file's.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(src):
    """Source without comments, string and char literals (kept as blanks)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', src[i:]) and (i == 0 or not re.match(r"[A-Za-z0-9_]", src[i - 1])):
            hashes = re.match(r'r(#*)"', src[i:]).group(1)
            end = src.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", src[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", src[i:]).group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_path(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return rel


def use_trees(src):
    """Every `use` tree in the source, as (offset, flattened path) pairs."""
    paths = []
    for m in re.finditer(r"\buse\s+([^;]*);", src):
        paths.extend((m.start(), p) for p in flatten(m.group(1)))
    return paths


def inline_modules(src):
    """Every `mod NAME { ... }` written inside the file, as (start, end, name)."""
    found = []
    for m in re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{", src):
        depth, i = 1, m.end()
        while i < len(src) and depth:
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        found.append((m.start(), i, m.group(1)))
    return found


def module_at(mod, inline, offset):
    """The module that the code at `offset` of file module `mod` is in: a
    `super::` inside an inline `mod tests { ... }` starts from the file's
    module, not from its parent."""
    return tuple(mod) + tuple(name for start, end, name in inline if start < offset < end)


def flatten(tree, prefix=()):
    tree = tree.strip()
    if not tree:
        return []
    # Split the top level on commas when the tree is a group.
    if tree.startswith("{") and tree.endswith("}"):
        return [p for item in split_top(tree[1:-1]) for p in flatten(item, prefix)]
    brace = tree.find("{")
    if brace >= 0:
        head = tree[:brace].rstrip(": ").strip()
        segs = [s for s in head.split("::") if s] if head else []
        inner = tree[brace:].strip()
        return [p for item in split_top(inner[1:-1]) for p in flatten(item, prefix + tuple(segs))]
    tree = re.sub(r"\s+as\s+" + IDENT + r"$", "", tree)
    segs = [s.strip() for s in tree.split("::") if s.strip()]
    if segs == ["self"]:
        return [prefix]
    if segs == ["*"]:
        return [prefix]
    return [prefix + tuple(s for s in segs if s != "*")]


def split_top(body):
    items, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    return [i for i in items if i.strip()]


def main():
    files = {}
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if name.endswith(".rs") and not (dirpath == ROOT and name == "main.rs"):
                path = os.path.join(dirpath, name)
                files[tuple(module_path(path))] = strip(open(path, encoding="utf-8").read())
    tops = {m[0] for m in files if m}

    # Re-exports: module path -> {name: target path}.
    reexports = {}
    for mod, src in files.items():
        inline = inline_modules(src)
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]*);", src):
            for p in flatten(m.group(1)):
                if not p:
                    continue
                target = absolute(module_at(mod, inline, m.start()), p, tops, in_use=True)
                if target:
                    reexports.setdefault(mod, {})[p[-1]] = target

    def units_of(path, seen=()):
        """Top-level modules a path (absolute segments) names, following re-exports."""
        if not path or path in seen:
            return set()
        found = set()
        if path[0] in tops:
            found.add(path[0])
        # Walk down: wherever a prefix re-exports the next segment, follow it.
        for k in range(len(path)):
            table = reexports.get(tuple(path[:k]))
            if table and path[k] in table:
                found |= units_of(tuple(table[path[k]]) + tuple(path[k + 1 :]), seen + (path,))
                break
        return found

    edges = {t: set() for t in tops}
    for mod, src in files.items():
        if not mod:
            continue  # lib.rs itself: the root re-exports everything
        me = mod[0]
        inline = inline_modules(src)
        referenced = [absolute(module_at(mod, inline, at), p, tops, in_use=True) for at, p in use_trees(src)]
        for m in re.finditer(r"\b(crate|super|self)((?:::" + IDENT + r")+)", src):
            segs = tuple([m.group(1)] + m.group(2).split("::")[1:])
            referenced.append(absolute(module_at(mod, inline, m.start()), segs, tops, in_use=False))
        for path in referenced:
            for unit in units_of(path or ()):
                if unit != me:
                    edges[me].add(unit)

    print("edges between top-level modules:")
    for a in sorted(edges):
        print(f"  {a} -> {', '.join(sorted(edges[a])) or '(none)'}")
    cycles = sccs(edges)
    for comp in cycles:
        print("CYCLE:", " ".join(sorted(comp)))
        for a in sorted(comp):
            print("   ", a, "->", ", ".join(sorted(b for b in edges[a] if b in comp)))
    if cycles:
        return 1
    print("layers, lowest first (each imports only from layers below it):")
    for level, units in enumerate(layers(edges)):
        print(f"  {level}: {' '.join(units)}")
    print("no import cycles between top-level modules")
    return 0


def absolute(mod, segs, tops, in_use):
    """The absolute path (from the crate root) of `segs` written in module `mod`."""
    segs = list(segs)
    if not segs:
        return None
    if segs[0] == "crate":
        return tuple(segs[1:])
    if segs[0] in ("super", "self"):
        base = list(mod)
        while segs and segs[0] in ("super", "self"):
            if segs.pop(0) == "super":
                base = base[:-1]
        return tuple(base + segs)
    if not mod and segs[0] in tops:
        return tuple(segs)  # lib.rs: a module of the root
    if in_use and len(mod) >= 1 and (tuple(mod) + (segs[0],)) in MODS:
        return tuple(mod) + tuple(segs)  # a child module named without self::
    return None  # an extern crate or a local item


MODS = set()


def sccs(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layers(edges):
    """The modules by layer: a module's layer is one above the highest layer it imports from."""
    level = {}
    for v in topo(edges):
        level[v] = 1 + max((level[w] for w in edges.get(v, ())), default=-1)
    return [sorted(v for v in level if level[v] == k) for k in range(max(level.values(), default=-1) + 1)]


def topo(edges):
    done, order = set(), []

    def visit(v):
        if v in done:
            return
        done.add(v)
        for w in sorted(edges.get(v, ())):
            visit(w)
        order.append(v)

    for v in sorted(edges):
        visit(v)
    return order


if __name__ == "__main__":
    for dirpath, _, names in os.walk(ROOT):
        for name in names:
            if name.endswith(".rs"):
                MODS.add(tuple(module_path(os.path.join(dirpath, name))))
    sys.exit(main())
