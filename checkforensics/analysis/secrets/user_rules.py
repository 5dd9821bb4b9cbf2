"""User rules: ``load_rules`` reads the ``[[rule]]`` tables of a TOML file (``--rules FILE``;
format in docs/secrets.md) into Rules, or raises ``RuleError`` saying what is wrong where.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from checkforensics.analysis.secrets.builtin import BUILTIN_RULES
from checkforensics.analysis.secrets.rule import Rule, RuleError, Severity
from checkforensics.analysis.secrets.validators import random_enough

_RULE_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_RULE_KEYS = {"id", "description", "severity", "regex", "group", "keywords", "ignore_case", "min_entropy"}


def load_rules(path: str | Path) -> list[Rule]:
    """The ``[[rule]]`` tables of a TOML file (format in docs/secrets.md) as Rules.

    Raises RuleError naming the file and the rule for anything wrong: unreadable file, TOML
    syntax, unknown or missing keys, a bad severity, a regex that does not compile or can match
    without bound.
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RuleError(f"cannot read rules file: {error.strerror or error}", where=str(path)) from None
    except UnicodeDecodeError:
        raise RuleError("rules file is not UTF-8 text", where=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise RuleError(f"not valid TOML: {error}", where=str(path)) from None
    unknown = sorted(set(document) - {"rule"})
    if unknown:
        raise RuleError(f"unknown top-level key {unknown[0]!r} (rules are [[rule]] tables)", where=str(path))
    tables = document.get("rule", [])
    if not isinstance(tables, list) or not tables:
        raise RuleError("no [[rule]] tables", where=str(path))
    builtin_ids = {r.id for r in BUILTIN_RULES}
    rules: list[Rule] = []
    for number, table in enumerate(tables, 1):
        name = table.get("id") if isinstance(table.get("id"), str) else f"#{number}"
        try:
            rule = _rule_from_table(table)
        except ValueError as error:
            raise RuleError(f"rule {name!r}: {error}", where=str(path)) from None
        if rule.id in builtin_ids or any(r.id == rule.id for r in rules):
            raise RuleError(f"rule {rule.id!r}: id already used by another rule", where=str(path))
        rules.append(rule)
    return rules


def _rule_from_table(table: dict[str, Any]) -> Rule:
    unknown = sorted(set(table) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_RULE_KEYS))})")
    for key in ("id", "severity", "regex"):
        if key not in table:
            raise ValueError(f"missing {key!r}")
    rule_id, regex = _typed(table, "id", str), _typed(table, "regex", str)
    if not _RULE_ID.fullmatch(rule_id):
        raise ValueError("id must be lowercase letters, digits, '.', '_' or '-' (at most 64)")
    description = _typed(table, "description", str, f"user rule {rule_id}")
    severity = Severity.parse(_typed(table, "severity", str))
    group = _typed(table, "group", int, 0)
    keywords = _typed(table, "keywords", list, [])
    if not all(isinstance(k, str) and k for k in keywords):
        raise ValueError("keywords must be a list of non-empty strings")
    ignore_case = _typed(table, "ignore_case", bool, False)
    min_entropy = _typed(table, "min_entropy", (int, float), 0.0)
    if not 0 <= min_entropy <= 8:
        raise ValueError("min_entropy must be between 0 and 8 bits per byte")
    try:
        compiled = re.compile(regex.encode("utf-8"), re.IGNORECASE if ignore_case else 0)
    except re.error as error:
        raise ValueError(f"bad regex: {error}") from None
    validate = random_enough(float(min_entropy)) if min_entropy else None
    return Rule(rule_id, description, severity, compiled, group, None, validate, tuple(k.encode() for k in keywords))


def _typed(table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = table.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(f"{key!r} must be of type {names}, not {type(value).__name__}")
    return value
