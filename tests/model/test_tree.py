"""The pstree as a forest: every process reached once, whatever the pstree says, without recursion."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from checkforensics.model.processes import Process, ProcessTree
from checkforensics.model.tree import DEPTH_LIMIT, link, walk


@dataclass
class Node:
    pid: int
    ppid: int
    children: list[Any] = field(default_factory=list)


def _forest(pairs: list[tuple[int, int]]) -> tuple[list[Node], list[Node], list[str]]:
    nodes = [Node(pid, ppid) for pid, ppid in pairs]
    roots, warnings = link(nodes)
    return nodes, roots, warnings


def _drawn(roots: list[Node], chosen: set[int] | None = None) -> list[tuple[int, int]]:
    return [(node.pid, depth) for node, depth in walk(roots, chosen)]


def test_a_consistent_tree_is_linked_in_pstree_order_without_warnings() -> None:
    _, roots, warnings = _forest([(1, 0), (7, 1), (8, 1), (9, 7), (30, 99)])
    assert warnings == []
    assert [root.pid for root in roots] == [1, 30]  # 30's parent is not in the dump: a root
    assert _drawn(roots) == [(1, 0), (7, 1), (9, 2), (8, 1), (30, 0)]


def test_a_parent_cycle_is_broken_at_its_first_process_and_named() -> None:
    # 500's parent is 502, 501's is 500, 502's is 501; 503 hangs below the cycle
    _, roots, warnings = _forest([(1, 0), (500, 502), (501, 500), (502, 501), (503, 501)])
    assert [root.pid for root in roots] == [1, 500]
    assert _drawn(roots) == [(1, 0), (500, 0), (501, 1), (502, 2), (503, 2)]
    assert warnings == [
        "pstree.img: the process tree is inconsistent: pids 500, 501, 502 are their own ancestors "
        "(parent cycle 500 -> 502 -> 501 -> 500); each is shown once, 500 as a root"
    ]


def test_own_parents_and_cycles_below_a_cycle_each_come_once() -> None:
    pairs = [(600, 600), (10, 11), (11, 10), (12, 10), (20, 21), (21, 20)]
    nodes, roots, warnings = _forest(pairs)
    assert sorted(pid for pid, _ in _drawn(roots)) == sorted(node.pid for node in nodes)
    assert [root.pid for root in roots] == [600, 10, 20]
    assert any("pid 600 is its own parent; shown as a root" in warning for warning in warnings)
    assert sum("parent cycle" in warning for warning in warnings) == 2


def test_a_pid_listed_twice_is_linked_once() -> None:
    _, roots, _ = _forest([(1, 0), (7, 1), (7, 7), (8, 7)])
    assert _drawn(roots) == [(1, 0), (7, 1), (8, 2)]


def test_a_chain_of_100000_is_walked_without_recursion_and_drawn_no_deeper_than_the_limit() -> None:
    count = 100_000
    assert count > sys.getrecursionlimit()
    _, roots, warnings = _forest([(pid, pid - 1) for pid in range(1, count + 1)])
    drawn = _drawn(roots)
    assert [pid for pid, _ in drawn] == list(range(1, count + 1))
    assert [depth for _, depth in drawn[: DEPTH_LIMIT + 1]] == list(range(DEPTH_LIMIT + 1))
    assert all(depth == DEPTH_LIMIT for _, depth in drawn[DEPTH_LIMIT + 1 :])  # drawn flat at the limit
    assert warnings == [
        f"pstree.img: the process tree is {count} levels deep; trees draw the processes below level "
        f"{DEPTH_LIMIT} at that level, each with its parent's pid"
    ]


def test_a_cycle_of_100000_is_one_warning_of_bounded_length() -> None:
    count = 100_000
    _, roots, warnings = _forest([(pid, pid - 1 if pid > 1 else count) for pid in range(1, count + 1)])
    assert len(_drawn(roots)) == count
    assert len(warnings) == 2 and len(warnings[0]) < 300  # the cycle, then the depth


def test_a_process_left_out_passes_its_place_to_its_children() -> None:
    _, roots, _ = _forest([(1, 0), (7, 1), (9, 7), (8, 1)])
    assert _drawn(roots, {1, 9, 8}) == [(1, 0), (9, 1), (8, 1)]


@pytest.mark.parametrize("count", [3, 100_000])
def test_process_tree_indexes_by_pid_and_never_recurses_in_repr(count: int) -> None:
    processes = [Process(pid, pid - 1, 1, 1, [pid]) for pid in range(1, count + 1)]
    tree = ProcessTree(processes)
    assert tree.by_pid(count) is processes[-1]
    assert tree.by_pid(count + 1) is None
    assert [root.pid for root in tree.roots()] == [1]
    assert "children" not in repr(processes[0])
    assert processes[0] == Process(1, 0, 1, 1, [1])  # children do not take part in comparisons
