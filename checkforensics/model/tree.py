"""The parent/child forest of a pstree: linked once, cycles broken, walked without recursion.

pstree.img is written by whoever controlled the dump: a process may name itself or one of its
descendants as its parent, a pid may be listed twice, and a chain of 100,000 processes is 100,000
levels deep. ``link`` turns whatever is listed into a forest in which every process is reached
exactly once, saying where the pstree is inconsistent; ``walk`` goes through it with a stack of
its own, so no depth can exhaust Python's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, Protocol

DEPTH_LIMIT = 32  # trees draw processes below this level at this level, each naming its parent
SHOWN = 8  # a warning names at most this many pids (or cycles)


class Node(Protocol):
    pid: int
    ppid: int
    children: list[Any]


def pid_list(pids: Sequence[int]) -> str:
    """``1, 2, 3`` or, for many, ``1, 2, ... 8 and 99992 more``."""
    shown = ", ".join(str(pid) for pid in pids[:SHOWN])
    return shown if len(pids) <= SHOWN else f"{shown} and {len(pids) - SHOWN} more"


def link(processes: Sequence[Node]) -> tuple[list[Any], list[str]]:
    """Fill in each process's ``children`` (in pstree order) so that they form a forest; return
    its roots (in pstree order) and what was inconsistent.

    A root is a process whose parent is 0 or not listed, one that is its own parent (warned),
    and one chosen to break a parent cycle: the first of the cycle in pstree order (warned,
    naming the cycle's pids). A pid listed twice is linked once, at its first entry.
    """
    order: dict[int, int] = {}  # id(process) -> pstree position
    by_pid: dict[int, Any] = {}
    for position, process in enumerate(processes):
        if by_pid.setdefault(process.pid, process) is process:
            order[id(process)] = position
        process.children = []
    roots: list[Any] = []
    own_parents: list[int] = []
    for process in processes:
        if by_pid[process.pid] is not process:
            continue
        parent = by_pid.get(process.ppid)
        if process.ppid == process.pid:
            own_parents.append(process.pid)
            roots.append(process)
        elif parent is None:
            roots.append(process)
        else:
            parent.children.append(process)
    reached: set[int] = set()
    depth = _reach(roots, reached)
    cycles = []
    if len(reached) < len(order):
        for process in processes:
            if id(process) in reached or by_pid[process.pid] is not process:
                continue
            cycle = _cycle_above(process, by_pid, reached)
            root = min(cycle, key=lambda member: order[id(member)])
            by_pid[root.ppid].children.remove(root)
            roots.append(root)
            depth = max(depth, _reach([root], reached))
            cycles.append(_cycle_from(root, by_pid))
    roots.sort(key=lambda root: order[id(root)])
    return roots, _warnings(own_parents, cycles, depth)


def _reach(roots: Sequence[Any], reached: set[int]) -> int:
    """Mark everything below ``roots`` as reached; the depth of the deepest level (roots at 0)."""
    deepest = 0
    level = list(roots)
    while level:  # level by level: one list per level, not one tuple per process
        reached.update(map(id, level))
        below = [child for process in level for child in process.children]
        if below:
            deepest += 1
        level = below
    return deepest


def _cycle_above(process: Any, by_pid: dict[int, Any], reached: set[int]) -> list[Any]:
    """The parent cycle that ``process`` (not reached from any root) hangs below or lies on.

    A process no root reaches has a listed parent no root reaches either; climbing parents
    therefore comes back to a process already climbed through, and from there on it is a cycle.
    """
    climbed: dict[int, int] = {}
    path = []
    while id(process) not in climbed:
        climbed[id(process)] = len(path)
        path.append(process)
        process = by_pid[process.ppid]
    return path[climbed[id(process)] :]


def _cycle_from(root: Any, by_pid: dict[int, Any]) -> list[int]:
    """The pids of the cycle through ``root``, from it along the parents, back to it."""
    pids = [root.pid]
    process = by_pid[root.ppid]
    while process is not root:
        pids.append(process.pid)
        process = by_pid[process.ppid]
    return [*pids, root.pid]


def _warnings(own_parents: list[int], cycles: list[list[int]], depth: int) -> list[str]:
    warnings = []
    if own_parents:
        what = "is its own parent" if len(own_parents) == 1 else "are each their own parent"
        warnings.append(
            f"pstree.img: the process tree is inconsistent: pid {pid_list(own_parents)} {what}; shown as a root"
        )
    for cycle in cycles[:SHOWN]:
        chain = " -> ".join(str(pid) for pid in cycle[:SHOWN]) + (
            f" -> ... ({len(cycle) - 1} pids)" if len(cycle) > SHOWN else ""
        )
        warnings.append(
            f"pstree.img: the process tree is inconsistent: pids {pid_list(sorted(cycle[:-1]))} are their own "
            f"ancestors (parent cycle {chain}); each is shown once, {cycle[0]} as a root"
        )
    if len(cycles) > SHOWN:
        warnings.append(f"pstree.img: {len(cycles) - SHOWN} more parent cycles, each broken the same way")
    if depth > DEPTH_LIMIT:
        warnings.append(
            f"pstree.img: the process tree is {depth + 1} levels deep; trees draw the processes below level "
            f"{DEPTH_LIMIT} at that level, each with its parent's pid"
        )
    return warnings


def walk(
    roots: Sequence[Any], chosen: Collection[int] | None = None, max_depth: int = DEPTH_LIMIT
) -> Iterator[tuple[Any, int]]:
    """Every process of the forest below ``roots`` once with the level a tree draws it at,
    parents before their children (depth first, in pstree order). With ``chosen``, only those
    pids: a process left out passes its place on to its children. A process deeper than
    ``max_depth`` is drawn at that level, after its ancestor there: a view names the parent of
    each process it draws at ``max_depth``."""
    stack = [(root, 0) for root in reversed(roots)]
    while stack:
        process, depth = stack.pop()
        below = depth
        if chosen is None or process.pid in chosen:
            yield process, min(depth, max_depth)
            below = depth + 1
        stack.extend((child, below) for child in reversed(process.children))
