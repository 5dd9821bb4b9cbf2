"""Validators: the checks a rule runs on a value its regex let through, rejecting what a regex
alone cannot tell from a secret (a placeholder, too little entropy, a JWT whose header is not
JSON, a PEM block without a key in it).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from typing import Any

from checkforensics.analysis.secrets.rule import Validator


def shannon_entropy(value: bytes) -> float:
    """Bits per byte of ``value`` (0 for b"aaaa", about 5.9 for random base64)."""
    if not value:
        return 0.0
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


_PLACEHOLDERS = frozenset(
    b"""
    password passwd pass passphrase secret secrets token apikey api_key api-key key privatekey
    changeme change_me change-me changeit example sample test testing dummy fake foo bar baz
    null nil none undefined true false yes no empty default redacted hidden masked removed
    placeholder required optional string value todo fixme tbd unknown user username admin123
    mypassword mysecret yourpassword yoursecret your_password your_secret your_token your-token
    xxxxxx secret123 password123 notasecret not-a-secret notset unset
    """.split()
)
_TEMPLATE = re.compile(rb"^(?:\$\{.*\}|\$\(.*\)|\{\{.*\}\}|<.*>|\[.*\]|%\(.*\)s|#\{.*\}|\$[A-Za-z_][A-Za-z0-9_]*)$")
_FORMAT = re.compile(rb"%[-0-9.]*[sdixXfu]|\{[0-9a-z_]*\}")


def is_placeholder(value: bytes) -> bool:
    """True for values that stand in for a secret: ``changeme``, ``${DB_PASSWORD}``, ``%s``, ``****``,
    also at the end of a sentence in a document (``AUTH=<mechanism>.``)."""
    text = value.strip(b"\"' ").rstrip(b".,;:!?").lower()
    if len(set(text)) <= 2 or text in _PLACEHOLDERS:
        return True
    if _TEMPLATE.match(text) or _FORMAT.search(text):
        return True
    return text.startswith((b"your_", b"your-", b"<your", b"insert", b"enter_", b"replace_", b"put_"))


def random_enough(min_entropy: float) -> Validator:
    def validate(value: bytes) -> bool:
        return shannon_entropy(value) >= min_entropy and not is_placeholder(value)

    validate.__name__ = f"entropy_at_least_{min_entropy}"
    return validate


def real_value(value: bytes) -> bool:
    return len(value) >= 6 and not is_placeholder(value)


def _b64decode(text: bytes, *, urlsafe: bool = False) -> bytes | None:
    text = text + b"=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(text) if urlsafe else base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _json_object(part: bytes) -> dict[str, Any] | None:
    if len(part) % 4 == 1:
        return None
    raw = _b64decode(part, urlsafe=True)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _jwt_claims(value: bytes) -> dict[str, Any] | None:
    """The payload of a JWT whose header is a JSON object naming its "alg"; else None."""
    parts = value.split(b".")
    if len(parts) != 3:
        return None
    header = _json_object(parts[0])
    if header is None or "alg" not in header:
        return None
    return _json_object(parts[1])


def is_jwt(value: bytes) -> bool:
    return _jwt_claims(value) is not None


def is_kubernetes_token(value: bytes) -> bool:
    claims = _jwt_claims(value)
    if claims is None:
        return False
    issuer = str(claims.get("iss", ""))
    subject = str(claims.get("sub", ""))
    return (
        issuer == "kubernetes/serviceaccount"
        or any(key == "kubernetes.io" or key.startswith("kubernetes.io/") for key in claims)
        or subject.startswith("system:serviceaccount:")
    )


# An encoded credential pair: base64 of "user:password" (RFC 7617's user-pass, which Docker's
# config.json "auth" and .npmrc's "_auth" hold too). What it decodes to must look like one: a
# user of printable ASCII without blanks, one colon, a password of printable ASCII (blanks
# allowed), neither longer than anything a registry or a browser sends.
_PAIR_USER = re.compile(rb"[!-9;-~]{1,128}")
_PAIR_PASSWORD = re.compile(rb"[ -9;-~]{3,3072}")


def credential_pair(value: bytes) -> tuple[bytes, bytes] | None:
    """``(user, password)`` when ``value`` is canonical base64 (padded, no stray bits) of
    ``user:password`` with a real password; else None."""
    if len(value) % 4:
        return None
    raw = _b64decode(value)
    if raw is None or base64.b64encode(raw) != value or raw.count(b":") != 1:
        return None
    user, _, password = raw.partition(b":")
    if not _PAIR_USER.fullmatch(user) or not _PAIR_PASSWORD.fullmatch(password) or is_placeholder(password):
        return None
    return user, password


def is_credential_pair(value: bytes) -> bool:
    return credential_pair(value) is not None


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{16,}")


def _armored_body(value: bytes) -> bytes:
    """The base64 of a PEM or armored block, without headers, newlines or escaped newlines."""
    lines = value.replace(b"\\n", b"\n").splitlines()[1:-1]
    return b"".join(line.strip() for line in lines if b":" not in line and _BASE64_RUN.fullmatch(line.strip()))


def is_key_block(value: bytes) -> bool:
    body = _armored_body(value)
    return len(body) >= 64 and shannon_entropy(body) >= 4.5


def is_openssh_key(value: bytes) -> bool:
    # Every OpenSSH key starts with the magic "openssh-key-v1\0", base64 "b3BlbnNzaC1rZXktdjE".
    return _armored_body(value).startswith(b"b3BlbnNzaC1rZXktdjE")
