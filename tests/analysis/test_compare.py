"""``analysis.compare``: keyed record sets compared, in an order that never varies."""

from __future__ import annotations

from checkforensics.analysis.compare import diff_records


def test_records_alike_in_their_sort_keys_keep_the_order_the_checkpoints_list_them() -> None:
    """Secret findings of one process share pid, fd and path: they come as B lists them (A for
    removed), never in a set's order, which changes from run to run with string hashing."""
    a = {("rule", str(n)): {"pid": 7, "rule": "rule", "value": str(n)} for n in range(0, 40, 2)}
    b = {("rule", str(n)): {"pid": 7, "rule": "rule", "value": str(n)} for n in range(39, 0, -1)}
    found = diff_records(a, b, ())
    assert [r["value"] for r in found.added] == [str(n) for n in range(39, 0, -2)]
    assert [r["value"] for r in found.removed] == ["0"]
    assert [r["value"] for r in found.unchanged] == [str(n) for n in range(2, 40, 2)]


def test_changed_records_carry_before_and_after() -> None:
    found = diff_records({1: {"pid": 1, "comm": "a"}}, {1: {"pid": 1, "comm": "b"}, 2: {"pid": 2}}, ("comm",))
    assert found.changed == [{"pid": 1, "comm": "b", "changes": {"comm": {"before": "a", "after": "b"}}}]
    assert found.added == [{"pid": 2}] and not found.removed and bool(found)
