"""Credential rules and their scanner: which secrets lie in a buffer of raw memory, and where.

A ``Rule`` is a bytes regex with an id, a severity, the group that holds the secret value, the
longest match it can make and the keywords every match contains.  ``scan`` runs a list of rules
over one buffer in a single pass of keyword search, then runs each rule's regex only in small
windows around its keywords' hits; ``scan_range`` does the same over something larger than memory
in bounded chunks.  Nothing here knows about processes or checkpoints: memgrep feeds the bytes.

The modules, in the order a rule flows through them:

- ``rule``: ``Rule``, ``Severity``, ``Finding``, ``RuleError``, and what a rule's regex can match;
- ``validators``: the checks that reject a matched value (placeholders, entropy, JWT, key blocks);
- ``names``: ``is_credential_name``, which names say their value is a credential (PGPASSWORD,
  MYSQL_PWD, DB_PASSWORD; not DB_PASSWORD_FILE): the ``env-secret`` rule and analysis.redaction
  both ask it;
- ``builtin``: ``BUILTIN_RULES``, the built-in rule table (docs/secrets.md lists every rule);
- ``user_rules``: ``load_rules``, rules from a TOML file;
- ``scanner``: ``scan`` and ``scan_range``, keyword search (Python or hyperscan) and regex windows;
- ``reporting``: ``dedupe``, for showing findings (masking values is analysis.redaction's).
"""

from __future__ import annotations

from checkforensics.analysis.secrets.builtin import BUILTIN_RULES
from checkforensics.analysis.secrets.names import is_credential_name
from checkforensics.analysis.secrets.reporting import Deduplicated, dedupe, finding_key
from checkforensics.analysis.secrets.rule import (
    TEXT_BYTES,
    Finding,
    MatchValidator,
    Rule,
    RuleError,
    Severity,
    Validator,
)
from checkforensics.analysis.secrets.scanner import DEFAULT_CHUNK, hyperscan_available, margins, scan, scan_range
from checkforensics.analysis.secrets.user_rules import load_rules
from checkforensics.analysis.secrets.validators import is_placeholder, shannon_entropy

__all__ = [
    "BUILTIN_RULES",
    "DEFAULT_CHUNK",
    "TEXT_BYTES",
    "Deduplicated",
    "Finding",
    "MatchValidator",
    "Rule",
    "RuleError",
    "Severity",
    "Validator",
    "dedupe",
    "finding_key",
    "hyperscan_available",
    "is_credential_name",
    "is_placeholder",
    "load_rules",
    "margins",
    "scan",
    "scan_range",
    "shannon_entropy",
]
