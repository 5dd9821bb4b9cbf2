"""Credential rules and their scanner: which secrets lie in a buffer of raw memory, and where.

A ``Rule`` is a bytes regex with an id, a severity, the group that holds the secret value, the
longest match it can make and the keywords every match contains.  ``scan`` runs a list of rules
over one buffer in a single pass of keyword search, then runs each rule's regex only in small
windows around its keywords' hits; ``scan_range`` does the same over something larger than memory
in bounded chunks.  Nothing here knows about processes or checkpoints: memgrep feeds the bytes.

References: token formats as their issuers publish them (GitHub's "new authentication token
formats" post, GitLab's token overview, Slack's token types, Stripe's API keys, AWS IAM
identifiers, Google's service-account key files, Azure storage connection strings, RFC 7519
JWT, RFC 7468 PEM, RFC 4880 armor, RFC 3986 URI userinfo); docs/secrets.md lists every rule.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import math
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from functools import cached_property, lru_cache
from pathlib import Path
from re import _constants as sre  # opcode names of the parse tree below
from re import _parser as sre_parse  # stable since 3.11: the only way to measure a regex's widths
from typing import Any, Generic, TypeVar

from checkforensics.errors import CheckforensicsError, UnsupportedError

# ---------------------------------------------------------------------------------------------
# Rules


class Severity(IntEnum):
    """How bad a leak of the value is; ordered, so ``severity >= Severity.HIGH`` works."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(str(s) for s in sorted(cls, reverse=True))
            raise ValueError(f"severity {text!r} is not one of {names}") from None


Validator = Callable[[bytes], bool]

# Bytes a "text" match may consist of: printable ASCII and the whitespace \t \n \v \f \r.
TEXT_BYTES = frozenset([*range(0x09, 0x0E), *range(0x20, 0x7F)])
_MAX_RULE_LENGTH = 1 << 20  # a longer possible match would make chunk overlaps absurd
_MIN_RUN = 8  # rules shorter than this are run over the whole buffer, not over text runs


@dataclass(frozen=True)
class _Shape:
    """What a regex can match, read from its parse tree."""

    min_length: int
    max_length: int  # _MAX_RULE_LENGTH + 1 when unbounded or too long
    text_only: bool  # every byte of every match is in TEXT_BYTES
    ahead: int  # bytes a lookaround may read past the end of a match
    behind: int  # and before its start
    literal_prefix: bytes  # bytes every match starts with (case aside)


@dataclass(frozen=True, repr=False)
class Rule:
    """One kind of secret.

    ``regex`` is run over raw bytes; ``group`` is the group holding the secret value (0: the whole
    match).  ``max_length`` bounds the length of a match (computed from the regex when not given).
    ``keywords`` are bytes every match contains (compared ignoring ASCII case when
    ``keywords_ignore_case``); the scanner looks for them first and runs the regex only near
    their hits, so a match without one is missed.  When no keywords are given, the regex's
    literal prefix serves (or, lacking one, the regex is run over the whole buffer).
    ``validate`` rejects a value the regex let through (a placeholder, too little entropy, a JWT
    whose header is not JSON).
    """

    id: str
    description: str
    severity: Severity
    regex: re.Pattern[bytes]
    group: int = 0
    max_length: int | None = None
    validate: Validator | None = None
    keywords: tuple[bytes, ...] = ()
    keywords_ignore_case: bool = False
    shape: _Shape = field(init=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        shape = _shape(self.regex)
        if shape.max_length > _MAX_RULE_LENGTH:
            raise ValueError(
                f"regex can match more than {_MAX_RULE_LENGTH} bytes (an unbounded + or *?); "
                "bound its repeats, e.g. {1,256}"
            )
        if shape.min_length == 0:
            raise ValueError("regex can match the empty string")
        if not 0 <= self.group <= self.regex.groups:
            raise ValueError(f"group {self.group} does not exist (the regex has {self.regex.groups})")
        if self.max_length is None:
            object.__setattr__(self, "max_length", shape.max_length)
        elif self.max_length < shape.max_length:
            raise ValueError(f"max_length {self.max_length} is shorter than the regex's longest match")
        keywords, ignore_case = tuple(bytes(k) for k in self.keywords), self.keywords_ignore_case
        if any(not k for k in keywords):
            raise ValueError("keywords must not be empty")
        if not keywords and len(shape.literal_prefix) >= 3:
            keywords, ignore_case = (shape.literal_prefix,), bool(self.regex.flags & re.IGNORECASE)
        object.__setattr__(self, "keywords", tuple(k.lower() for k in keywords) if ignore_case else keywords)
        object.__setattr__(self, "keywords_ignore_case", ignore_case)
        severity = Severity.parse(self.severity) if isinstance(self.severity, str) else Severity(self.severity)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "shape", shape)

    def __repr__(self) -> str:
        return f"Rule({self.id!r})"


@dataclass(frozen=True)
class Finding:
    """One secret in a scanned buffer: ``data[start:end] == value`` (the rule's group)."""

    rule: Rule
    start: int
    end: int
    value: bytes


class RuleError(CheckforensicsError):
    """A user rules file that cannot be read or holds a broken rule."""


# ---------------------------------------------------------------------------------------------
# Reading a regex's parse tree: its widths, whether it only matches text, its lookarounds.

_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}
_TEXT_CATEGORIES = {sre.CATEGORY_DIGIT, sre.CATEGORY_SPACE, sre.CATEGORY_WORD}


def _shape(regex: re.Pattern[bytes]) -> _Shape:
    tree = sre_parse.parse(regex.pattern, regex.flags)
    low, high = tree.getwidth()
    facts = {"text": True, "ahead": 0, "behind": 0}
    _walk(tree, facts)
    return _Shape(
        min_length=low,
        max_length=min(high, _MAX_RULE_LENGTH + 1),
        text_only=bool(facts["text"]),
        ahead=int(facts["ahead"]),
        behind=int(facts["behind"]),
        literal_prefix=_literal_prefix(tree),
    )


def _walk(tree: Any, facts: dict[str, int | bool]) -> None:
    for op, av in tree:
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            direction, sub = av
            reach = min(sub.getwidth()[1], _MAX_RULE_LENGTH)
            key = "ahead" if direction == 1 else "behind"
            facts[key] = max(int(facts[key]), reach)
        elif op is sre.AT:
            facts["ahead"] = max(int(facts["ahead"]), 1)
            facts["behind"] = max(int(facts["behind"]), 1)
        elif op is sre.LITERAL:
            facts["text"] = bool(facts["text"]) and av in TEXT_BYTES
        elif op is sre.IN:
            facts["text"] = bool(facts["text"]) and _set_is_text(av)
        elif op is sre.SUBPATTERN:
            _walk(av[3], facts)
        elif op is sre.BRANCH:
            for sub in av[1]:
                _walk(sub, facts)
        elif op in _REPEATS:
            _walk(av[2], facts)
        elif op is sre.ATOMIC_GROUP:
            _walk(av, facts)
        elif op is sre.GROUPREF_EXISTS:
            _walk(av[1], facts)
            if av[2] is not None:
                _walk(av[2], facts)
        elif op is not sre.GROUPREF:  # a backreference repeats bytes already checked
            facts["text"] = False  # ANY, NOT_LITERAL, or something we do not know: assume binary


def _set_is_text(items: list[tuple[Any, Any]]) -> bool:
    for op, av in items:
        if op is sre.LITERAL:
            ok = av in TEXT_BYTES
        elif op is sre.RANGE:
            ok = all(b in TEXT_BYTES for b in range(av[0], av[1] + 1))
        elif op is sre.CATEGORY:
            ok = av in _TEXT_CATEGORIES
        else:  # NEGATE and anything else
            ok = False
        if not ok:
            return False
    return True


def _literal_prefix(tree: Any) -> bytes:
    prefix = bytearray()
    for op, av in tree:
        if op in (sre.ASSERT, sre.ASSERT_NOT, sre.AT):
            if prefix:
                break
            continue
        if op is not sre.LITERAL:
            break
        prefix.append(av)
    return bytes(prefix)


# ---------------------------------------------------------------------------------------------
# Validators: reject what a regex alone cannot tell from a secret.


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
    """True for values that stand in for a secret: ``changeme``, ``${DB_PASSWORD}``, ``%s``, ``****``."""
    text = value.strip(b"\"' ").lower()
    if len(set(text)) <= 2 or text in _PLACEHOLDERS:
        return True
    if _TEMPLATE.match(text) or _FORMAT.search(text):
        return True
    return text.startswith((b"your_", b"your-", b"<your", b"insert", b"enter_", b"replace_", b"put_"))


def _random_enough(min_entropy: float) -> Validator:
    def validate(value: bytes) -> bool:
        return shannon_entropy(value) >= min_entropy and not is_placeholder(value)

    validate.__name__ = f"entropy_at_least_{min_entropy}"
    return validate


def _real_value(value: bytes) -> bool:
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


def _is_jwt(value: bytes) -> bool:
    return _jwt_claims(value) is not None


def _is_kubernetes_token(value: bytes) -> bool:
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


def _is_user_password(value: bytes) -> bool:
    """Base64 of ``user:password`` (Docker's "auth", HTTP Basic) with a real password."""
    raw = _b64decode(value)
    if raw is None or b":" not in raw or any(b not in TEXT_BYTES or b < 0x20 for b in raw):
        return False
    user, _, password = raw.partition(b":")
    return bool(user) and bool(password) and not is_placeholder(password)


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{16,}")


def _armored_body(value: bytes) -> bytes:
    """The base64 of a PEM or armored block, without headers, newlines or escaped newlines."""
    lines = value.replace(b"\\n", b"\n").splitlines()[1:-1]
    return b"".join(line.strip() for line in lines if b":" not in line and _BASE64_RUN.fullmatch(line.strip()))


def _is_key_block(value: bytes) -> bool:
    body = _armored_body(value)
    return len(body) >= 64 and shannon_entropy(body) >= 4.5


def _is_openssh_key(value: bytes) -> bool:
    # Every OpenSSH key starts with the magic "openssh-key-v1\0", base64 "b3BlbnNzaC1rZXktdjE".
    return _armored_body(value).startswith(b"b3BlbnNzaC1rZXktdjE")


# ---------------------------------------------------------------------------------------------
# The built-in rules, most specific first: where findings of two rules overlap, the first wins.


_ALNUM = rb"[A-Za-z0-9]"
_B64URL = rb"[A-Za-z0-9_-]"
_NOT_ALNUM_BEFORE = rb"(?<![A-Za-z0-9])"
_NOT_ALNUM_AFTER = rb"(?![A-Za-z0-9])"
_NOT_TOKEN_BEFORE = rb"(?<![A-Za-z0-9_-])"
_NOT_TOKEN_AFTER = rb"(?![A-Za-z0-9_-])"
# A line of a PEM body: base64, header lines ("Proc-Type: 4,ENCRYPTED"), newlines raw or escaped
# as in JSON; a dash only when it does not start the next "-----" line.
_PEM_BODY = rb"(?:[A-Za-z0-9+/=\s:,\\]|-(?!----))"
_PGP_BODY = rb"(?:[\t-\r\x20-,.-~]|-(?!----))"
_JWT = rb"eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,16384}\.[A-Za-z0-9_-]{0,2048}"
_URL_USER = rb"[A-Za-z0-9._~%!$&'()*+,;=-]"
_URL_PASSWORD = rb"[A-Za-z0-9._~%!$&'()*+,;=:-]"
# Where an unquoted value ends: NUL (environ), a line end, a quote, blank, or "; " in a shell line.
_VALUE_END = rb"(?=[\x00\t\n\r \"']|;[\s\x00]|\Z)"
_ENV_WORDS = rb"PASSWORD|PASSWD|PASSPHRASE|PASS|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?"
# Names that end like these hold something about a secret, not the secret: DB_PASSWORD_FILE=...
_ENV_NOT_SECRET = (
    b"FILE PATH DIR LENGTH LEN MIN MAX TTL EXPIRY EXPIRES EXPIRE TIMEOUT TYPE NAME ID URL HOST PORT "
    b"USER USERNAME SOCK COMMAND CMD PROMPT HINT POLICY SIZE BITS COUNT ENABLED ENABLE MODE FORMAT "
    b"HEADER PARAM FIELD ALGORITHM VERSION LOCATION REF SOURCE ENDPOINT REGION"
).split()
_ENV_NAME_END = b"".join(b"(?<!_" + word + b")" for word in _ENV_NOT_SECRET)


def _rule(
    rule_id: str,
    severity: Severity,
    description: str,
    pattern: bytes,
    keywords: Iterable[bytes],
    *,
    group: int = 0,
    validate: Validator | None = None,
    ignore_case: bool = False,
) -> Rule:
    return Rule(
        rule_id, description, severity, re.compile(pattern), group, None, validate, tuple(keywords), ignore_case
    )


def _token_rule(rule_id: str, severity: Severity, description: str, prefix: bytes, body: bytes) -> Rule:
    """A token that is a fixed prefix and a random body, standing alone between non-token bytes."""
    pattern = _NOT_ALNUM_BEFORE + b"(" + re.escape(prefix) + body + b")" + _NOT_ALNUM_AFTER
    return _rule(rule_id, severity, description, pattern, [prefix], group=1, validate=_random_enough(3.0))


CRITICAL, HIGH, MEDIUM, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

BUILTIN_RULES: tuple[Rule, ...] = (
    _rule(
        "gcp-service-account-key",
        CRITICAL,
        'Google Cloud service-account key file: "type": "service_account" with its "private_key"',
        rb'"type"\s{0,16}:\s{0,16}"service_account"[\t-\r\x20-z|~]{0,2048}?"private_key"\s{0,16}:\s{0,16}'
        rb'"(-----BEGIN PRIVATE KEY-----' + _PEM_BODY + rb"{64,12000}?-----END PRIVATE KEY-----(?:\\n)?)\"",
        [b"service_account"],
        group=1,
        validate=_is_key_block,
    ),
    _rule(
        "private-key-pem",
        CRITICAL,
        "PEM private key (RSA, EC, DSA or PKCS#8), the whole block from BEGIN to END",
        rb"-----BEGIN ((?:RSA |EC |DSA )?PRIVATE KEY)-----" + _PEM_BODY + rb"{64,12000}?-----END \1-----",
        [b"PRIVATE KEY-----"],
        validate=_is_key_block,
    ),
    _rule(
        "private-key-pem-encrypted",
        HIGH,
        "PEM PKCS#8 encrypted private key (needs its passphrase), the whole block",
        rb"-----BEGIN ENCRYPTED PRIVATE KEY-----" + _PEM_BODY + rb"{64,12000}?-----END ENCRYPTED PRIVATE KEY-----",
        [b"ENCRYPTED PRIVATE KEY-----"],
        validate=_is_key_block,
    ),
    _rule(
        "openssh-private-key",
        CRITICAL,
        'OpenSSH private key ("openssh-key-v1"), the whole block',
        rb"-----BEGIN OPENSSH PRIVATE KEY-----" + _PEM_BODY + rb"{64,16000}?-----END OPENSSH PRIVATE KEY-----",
        [b"OPENSSH PRIVATE KEY-----"],
        validate=_is_openssh_key,
    ),
    _rule(
        "pgp-private-key",
        CRITICAL,
        "PGP/GPG private key block (ASCII armor), the whole block",
        rb"-----BEGIN PGP PRIVATE KEY BLOCK-----" + _PGP_BODY + rb"{64,65536}?-----END PGP PRIVATE KEY BLOCK-----",
        [b"PGP PRIVATE KEY BLOCK-----"],
        validate=_is_key_block,
    ),
    _rule(
        "kubernetes-service-account-token",
        CRITICAL,
        "Kubernetes service-account token: a JWT issued by kubernetes/serviceaccount or with kubernetes.io claims",
        rb"(?<![A-Za-z0-9_.-])(" + _JWT + b")" + _NOT_TOKEN_AFTER,
        [b"eyJ"],
        group=1,
        validate=_is_kubernetes_token,
    ),
    _rule(
        "aws-access-key-id",
        HIGH,
        "AWS access key id (AKIA long-term, ASIA temporary, ABIA, ACCA, A3T): half of a key pair",
        _NOT_ALNUM_BEFORE + rb"((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})" + _NOT_ALNUM_AFTER,
        [b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"A3T"],
        group=1,
        validate=_random_enough(3.0),
    ),
    _rule(
        "aws-secret-access-key",
        CRITICAL,
        "AWS secret access key: 40 base64 characters after aws_secret_access_key / SecretAccessKey",
        rb"(?i:(?:aws_?)?secret_?access_?key)[\"']?\s{0,4}[:=]\s{0,4}[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        [b"secret"],
        group=1,
        validate=_random_enough(3.5),
        ignore_case=True,
    ),
    _token_rule("gcp-api-key", HIGH, "Google API key (AIza...)", b"AIza", _B64URL + rb"{35}"),
    _rule(
        "azure-storage-account-key",
        CRITICAL,
        "Azure storage account key: AccountKey= in a connection string, 88 base64 characters",
        rb"(?i:AccountKey)\s{0,4}=\s{0,4}([A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])",
        [b"AccountKey"],
        group=1,
        validate=_random_enough(4.0),
        ignore_case=True,
    ),
    _rule(
        "azure-shared-access-key",
        HIGH,
        "Azure Service Bus / Event Hubs / IoT Hub SharedAccessKey= in a connection string",
        rb"(?i:SharedAccessKey)\s{0,4}=\s{0,4}([A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])",
        [b"SharedAccessKey"],
        group=1,
        validate=_random_enough(3.5),
        ignore_case=True,
    ),
    _token_rule(
        "github-fine-grained-pat",
        CRITICAL,
        "GitHub fine-grained personal access token (github_pat_)",
        b"github_pat_",
        _ALNUM + rb"{22,40}_" + _ALNUM + rb"{50,120}",
    ),
    _token_rule("github-pat", CRITICAL, "GitHub classic personal access token (ghp_)", b"ghp_", _ALNUM + rb"{36,251}"),
    _token_rule("github-oauth-token", CRITICAL, "GitHub OAuth access token (gho_)", b"gho_", _ALNUM + rb"{36,251}"),
    _token_rule("github-user-token", HIGH, "GitHub App user-to-server token (ghu_)", b"ghu_", _ALNUM + rb"{36,251}"),
    _token_rule(
        "github-app-token",
        HIGH,
        "GitHub App installation (server-to-server) token (ghs_)",
        b"ghs_",
        _ALNUM + rb"{36,251}",
    ),
    _token_rule("github-refresh-token", HIGH, "GitHub refresh token (ghr_)", b"ghr_", _ALNUM + rb"{36,251}"),
    _rule(
        "gitlab-pat",
        CRITICAL,
        "GitLab personal, project or group access token (glpat-)",
        _NOT_TOKEN_BEFORE + rb"(glpat-" + _B64URL + rb"{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,12})?)" + _NOT_TOKEN_AFTER,
        [b"glpat-"],
        group=1,
        validate=_random_enough(3.0),
    ),
    _rule(
        "gitlab-token",
        HIGH,
        "Other GitLab tokens: deploy (gldt-), runner (glrt-), trigger (glptt-), feed, mail, agent, CI job, OAuth",
        _NOT_TOKEN_BEFORE
        + rb"((?:gldt|glrt|glrtr|glptt|glft|glimt|glagent|glcbt|gloas|glsoat)-"
        + _B64URL
        + rb"{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,12})?)"
        + _NOT_TOKEN_AFTER,
        [b"gldt-", b"glrt-", b"glrtr-", b"glptt-", b"glft-", b"glimt-", b"glagent-", b"glcbt-", b"gloas-", b"glsoat-"],
        group=1,
        validate=_random_enough(3.0),
    ),
    _rule(
        "slack-bot-token",
        CRITICAL,
        "Slack bot token (xoxb-team-bot-secret)",
        rb"(?<![A-Za-z0-9-])(xoxb-[0-9]{8,14}-[0-9]{8,14}-[A-Za-z0-9]{20,40})(?![A-Za-z0-9-])",
        [b"xoxb-"],
        group=1,
        validate=_random_enough(3.0),
    ),
    _rule(
        "slack-user-token",
        CRITICAL,
        "Slack user token (xoxp-team-user-id-secret)",
        rb"(?<![A-Za-z0-9-])(xoxp-[0-9]{8,14}-[0-9]{8,14}-[0-9]{8,14}-[A-Za-z0-9]{24,64})(?![A-Za-z0-9-])",
        [b"xoxp-"],
        group=1,
        validate=_random_enough(3.0),
    ),
    _rule(
        "slack-token",
        HIGH,
        "Other Slack tokens: workspace (xoxa-), refresh (xoxr-), session (xoxs-), config (xoxe-), app-level (xapp-)",
        rb"(?<![A-Za-z0-9-])((?:xox[abeoprs]|xapp)-(?:[0-9A-Za-z]{1,64}-){1,5}[0-9A-Za-z]{8,128})(?![A-Za-z0-9-])",
        [b"xoxa-", b"xoxb-", b"xoxe-", b"xoxo-", b"xoxp-", b"xoxr-", b"xoxs-", b"xapp-"],
        group=1,
        validate=_random_enough(3.0),
    ),
    _rule(
        "slack-webhook",
        HIGH,
        "Slack incoming webhook or workflow URL (hooks.slack.com/services/T.../B.../...)",
        rb"(https?://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,12}/[A-Za-z0-9/]{20,120})"
        rb"(?![A-Za-z0-9/])",
        [b"hooks.slack.com/"],
        group=1,
        validate=_random_enough(3.0),
    ),
    _token_rule("stripe-secret-key", CRITICAL, "Stripe live secret key (sk_live_)", b"sk_live_", _ALNUM + rb"{24,247}"),
    _token_rule(
        "stripe-restricted-key", HIGH, "Stripe live restricted key (rk_live_)", b"rk_live_", _ALNUM + rb"{24,247}"
    ),
    _rule(
        "stripe-test-key",
        LOW,
        "Stripe test-mode secret or restricted key (sk_test_, rk_test_): no real money, still a credential",
        _NOT_ALNUM_BEFORE + rb"([sr]k_test_[A-Za-z0-9]{24,247})" + _NOT_ALNUM_AFTER,
        [b"k_test_"],
        group=1,
        validate=_random_enough(3.0),
    ),
    _token_rule("twilio-api-key", HIGH, "Twilio API key SID (SK + 32 hex)", b"SK", rb"[0-9a-f]{32}"),
    _token_rule(
        "twilio-account-sid", LOW, "Twilio account SID (AC + 32 hex): names an account", b"AC", rb"[0-9a-f]{32}"
    ),
    _rule(
        "sendgrid-api-key",
        CRITICAL,
        "SendGrid API key (SG.<22>.<43>)",
        _NOT_TOKEN_BEFORE + rb"(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})" + _NOT_TOKEN_AFTER,
        [b"SG."],
        group=1,
        validate=_random_enough(3.5),
    ),
    _token_rule("npm-token", HIGH, "npm access token (npm_)", b"npm_", _ALNUM + rb"{36}"),
    _rule(
        "pypi-token",
        HIGH,
        "PyPI or TestPyPI API token (pypi-AgEIcHlwaS5vcmc...: a macaroon for pypi.org)",
        _NOT_TOKEN_BEFORE
        + rb"(pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,1000})"
        + _NOT_TOKEN_AFTER,
        [b"pypi-Ag"],
        group=1,
    ),
    _rule(
        "anthropic-api-key",
        CRITICAL,
        "Anthropic API key (sk-ant-api03-...)",
        _NOT_TOKEN_BEFORE + rb"(sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_-]{40,200})" + _NOT_TOKEN_AFTER,
        [b"sk-ant-"],
        group=1,
        validate=_random_enough(3.5),
    ),
    _rule(
        "openai-api-key",
        CRITICAL,
        "OpenAI-style API key (sk-proj-, sk-svcacct-, sk-admin-, legacy sk-<48>)",
        _NOT_TOKEN_BEFORE
        + rb"(sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}"
        + rb"|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{48}))"
        + _NOT_TOKEN_AFTER,
        [b"sk-"],
        group=1,
        validate=_random_enough(3.5),
    ),
    _rule(
        "jwt",
        MEDIUM,
        'JSON Web Token: three base64url parts, the header a JSON object with "alg"',
        rb"(?<![A-Za-z0-9_.-])(" + _JWT + b")" + _NOT_TOKEN_AFTER,
        [b"eyJ"],
        group=1,
        validate=_is_jwt,
    ),
    _rule(
        "database-url-password",
        HIGH,
        "Password in a database or broker URL: postgres, mysql, mariadb, mssql, mongodb(+srv), redis, amqp, ...",
        rb"(?<![A-Za-z0-9+.-])(?i:(?:postgres(?:ql)?|mysql|mariadb|mssql|sqlserver|oracle|mongodb(?:\+srv)?|rediss?"
        rb"|amqps?|clickhouse|couchdb|cockroachdb|neo4j(?:\+s)?)(?:\+[a-z0-9]{1,16})?)://"
        + _URL_USER
        + rb"{0,128}:("
        + _URL_PASSWORD
        + rb"{1,128})@(?=[A-Za-z0-9\[])",
        [b"://"],
        group=1,
        validate=_real_value,
    ),
    _rule(
        "docker-config-auth",
        HIGH,
        'Registry credentials in a Docker config.json: "auth": base64 of user:password',
        rb'"auth"\s{0,8}:\s{0,8}"([A-Za-z0-9+/]{6,2048}={0,2})"',
        [b'"auth"'],
        group=1,
        validate=_is_user_password,
    ),
    _rule(
        "http-basic-auth-header",
        HIGH,
        "HTTP Authorization: Basic header (base64 of user:password)",
        rb"(?i:authorization)\s{0,4}:\s{0,4}(?i:basic)\s{1,4}([A-Za-z0-9+/]{6,2048}={0,2})(?![A-Za-z0-9+/=])",
        [b"basic"],
        group=1,
        validate=_is_user_password,
        ignore_case=True,
    ),
    _rule(
        "http-bearer-token",
        MEDIUM,
        "HTTP Authorization: Bearer header with an opaque token",
        rb"(?i:authorization)\s{0,4}:\s{0,4}(?i:bearer)\s{1,4}([A-Za-z0-9._~+/-]{16,4096}={0,2})(?![A-Za-z0-9._~+/=-])",
        [b"bearer"],
        group=1,
        validate=_random_enough(3.0),
        ignore_case=True,
    ),
    _rule(
        "url-basic-auth",
        HIGH,
        "Password in an http(s), ftp, ws, smtp, imap or ldap URL (scheme://user:password@host)",
        rb"(?<![A-Za-z0-9+.-])(?i:https?|ftps?|wss?|smtps?|imaps?|ldaps?)://"
        + _URL_USER
        + rb"{1,128}:("
        + _URL_PASSWORD
        + rb"{1,128})@(?=[A-Za-z0-9\[])",
        [b"://"],
        group=1,
        validate=_real_value,
    ),
    _rule(
        "password-in-json",
        MEDIUM,
        'A "password", "secret", "token" or "api_key" field in JSON with a real-looking value',
        rb'"(?i:password|passwd|passphrase|secret|client_secret|api_?key|access_?token|refresh_?token|auth_?token'
        rb'|token)"\s{0,8}:\s{0,8}"([\x20!#-\[\]-~]{6,256})"',
        [b'"pass', b'"secret', b'"client_secret', b'"api', b'"access', b'"refresh', b'"auth', b'"token'],
        group=1,
        validate=_real_value,
        ignore_case=True,
    ),
    _rule(
        "env-secret",
        HIGH,
        "Environment-style assignment NAME=value where NAME says PASSWORD, SECRET, TOKEN, API_KEY, ...",
        rb"(?<![A-Za-z0-9_])(?:[A-Z0-9]{1,32}_){0,6}(?:"
        + _ENV_WORDS
        + rb")(?:_[A-Z0-9]{1,32}){0,4}"
        + _ENV_NAME_END
        + rb"=[\"']?([!#-&(-~]{6,256}?)"
        + _VALUE_END,
        [b"PASS", b"SECRET", b"TOKEN", b"KEY", b"CREDENTIAL"],
        group=1,
        validate=_real_value,
    ),
    _rule(
        "generic-key-assignment",
        LOW,
        "NAME_KEY=value with a long high-entropy value (an unknown kind of key)",
        rb"(?<![A-Za-z0-9_])[A-Z0-9_]{0,64}_KEY(?<!GPG_KEY)(?<!PUBLIC_KEY)(?<!PUB_KEY)=[\"']?([A-Za-z0-9+/=_.-]{16,256}?)"
        + _VALUE_END,
        [b"_KEY="],
        group=1,
        validate=_random_enough(3.5),
    ),
)


# ---------------------------------------------------------------------------------------------
# The scanner


_TEXT_MASK = bytes(0x74 if b in TEXT_BYTES else 0 for b in range(256))  # text -> b"t", else NUL


_Keyword = tuple[bytes, bool]  # (bytes, ignoring case): lowercase when ignoring case


@dataclass(frozen=True)
class _Search:
    """One pass over a haystack: a find loop for one keyword, or a regex for the keywords that
    share their first byte (so AKIA, ASIA, AIza... cost one pass, not one each)."""

    keywords: tuple[int, ...]  # indexes into _Plan.keywords
    pattern: re.Pattern[bytes] | None


@dataclass(frozen=True)
class _Plan:
    """A rule list prepared for scanning: which keyword serves which rules, and how to find it."""

    rules: tuple[Rule, ...]
    keywords: tuple[_Keyword, ...]  # every distinct keyword
    users: tuple[tuple[int, ...], ...]  # users[k]: indexes of the rules that keyword k serves
    in_runs: tuple[bool, ...]  # keyword k is only looked for inside runs of text
    searches: tuple[_Search, ...]
    whole: tuple[int, ...]  # rules without keywords: regex over the whole buffer
    min_run: int

    @cached_property
    def hyperscan(self) -> Any:
        import hyperscan

        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=[b"".join(b"\\x%02x" % b for b in keyword) for keyword, _ in self.keywords],
            ids=list(range(len(self.keywords))),
            elements=len(self.keywords),
            flags=[hyperscan.HS_FLAG_CASELESS if nocase else 0 for _, nocase in self.keywords],
        )
        return database


_Hit = tuple[int, int, int]  # (keyword offset, lowest and highest offset a match around it can reach)


@lru_cache(maxsize=16)
def _plan(rules: tuple[Rule, ...]) -> _Plan:
    users: dict[_Keyword, list[int]] = defaultdict(list)
    in_runs: dict[_Keyword, bool] = {}
    whole = []
    runnable = [r.shape.text_only and r.shape.min_length >= _MIN_RUN for r in rules]
    min_run = min((r.shape.min_length for r, ok in zip(rules, runnable, strict=True) if ok), default=_MIN_RUN)
    for index, rule in enumerate(rules):
        if not rule.keywords:
            whole.append(index)
        for keyword in rule.keywords:
            key = (keyword, rule.keywords_ignore_case and keyword.lower() != keyword.upper())
            users[key].append(index)
            in_runs[key] = in_runs.get(key, True) and runnable[index]
    keywords = tuple(users)
    groups: dict[tuple[bool, bool, bytes], list[int]] = defaultdict(list)
    for k, (keyword, nocase) in enumerate(keywords):
        groups[in_runs[keywords[k]], nocase, keyword[:1]].append(k)
    searches = []
    for members in groups.values():
        if len(members) == 1:
            searches.extend(_Search((k,), None) for k in members)
            continue
        prefix = keywords[members[0]][0][:1]
        rests = sorted({keywords[k][0][1:] for k in members}, key=len, reverse=True)
        pattern = re.escape(prefix) + b"(?=" + b"|".join(re.escape(rest) for rest in rests) + b")"
        searches.append(_Search(tuple(members), re.compile(pattern)))
    return _Plan(
        rules=rules,
        keywords=keywords,
        users=tuple(tuple(users[k]) for k in keywords),
        in_runs=tuple(in_runs[k] for k in keywords),
        searches=tuple(searches),
        whole=tuple(whole),
        min_run=min_run,
    )


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def _find_all(haystack: bytes, needle: bytes) -> list[int]:
    found = []
    find = haystack.find
    at = find(needle)
    while at >= 0:
        found.append(at)
        at = find(needle, at + 1)
    return found


def _search(plan: _Plan, search: _Search, haystack: bytes) -> Iterator[tuple[int, int]]:
    """``(keyword index, offset)`` of every occurrence of the search's keywords, overlaps included."""
    if search.pattern is None:
        k = search.keywords[0]
        for at in _find_all(haystack, plan.keywords[k][0]):
            yield k, at
        return
    startswith, pattern = haystack.startswith, search.pattern
    match = pattern.search(haystack)
    while match is not None:
        at = match.start()
        for k in search.keywords:
            if startswith(plan.keywords[k][0], at):
                yield k, at
        match = pattern.search(haystack, at + 1)


def _text_runs(data: bytes, start: int, min_run: int) -> list[tuple[int, int]]:
    """``(start, end)`` of every run of at least ``min_run`` text bytes from ``start`` on."""
    mask = data.translate(_TEXT_MASK)
    needle = b"t" * min_run
    runs = []
    at = mask.find(needle, start)
    while at >= 0:
        end = mask.find(b"\0", at + min_run)
        end = len(mask) if end < 0 else end
        runs.append((at, end))
        at = mask.find(needle, end)
    return runs


def _python_hits(plan: _Plan, data: bytes, start: int) -> list[list[_Hit]]:
    """Every keyword occurrence that can lie inside a match, with the bounds a match there has."""
    hits: list[list[_Hit]] = [[] for _ in plan.keywords]
    if any(plan.in_runs):
        # Text rules match only text, so their keywords are looked for in the runs of text alone
        # (on binary memory a small part of the buffer), and a match lies inside its hit's run.
        runs = _text_runs(data, start, plan.min_run)
        joined = b"\0".join(data[a:b] for a, b in runs)
        lowered = joined.lower() if any(nocase for _, nocase in plan.keywords) else joined
        joined_starts = []
        offset = 0
        for a, b in runs:
            joined_starts.append(offset)
            offset += b - a + 1
        for search in plan.searches:
            first = search.keywords[0]  # a search's keywords agree on where and how they are found
            if not plan.in_runs[first]:
                continue
            for k, at in _search(plan, search, lowered if plan.keywords[first][1] else joined):
                run = bisect.bisect_right(joined_starts, at) - 1
                low, high = runs[run]
                hits[k].append((low + at - joined_starts[run], low, high))
    if not all(plan.in_runs):
        whole = data[start:]
        lowered = whole.lower() if any(nocase for _, nocase in plan.keywords) else whole
        for search in plan.searches:
            first = search.keywords[0]
            if plan.in_runs[first]:
                continue
            for k, at in _search(plan, search, lowered if plan.keywords[first][1] else whole):
                hits[k].append((start + at, start, len(data)))
    return hits


def _hyperscan_hits(plan: _Plan, data: bytes, start: int) -> list[list[_Hit]]:
    hits: list[list[_Hit]] = [[] for _ in plan.keywords]
    if not plan.keywords:
        return hits
    lengths = [len(k) for k, _ in plan.keywords]
    size = len(data)

    def on_match(keyword: int, _from: int, to: int, _flags: int, _context: object) -> None:
        at = to - lengths[keyword]
        if at >= start:
            hits[keyword].append((at, start, size))

    plan.hyperscan.scan(data, match_event_handler=on_match)
    return hits


def _regions(hits: list[_Hit], length: int, ahead: int) -> Iterator[tuple[int, int]]:
    """Merged windows where a match holding one of ``hits`` can lie (and its lookaheads read).

    A match holding a keyword at p lies in [p - length, p + length) and inside the bounds of
    the hit (its run of text), so these windows hold every match.  Any superset of the hits
    inside matches gives the same findings.
    """
    windows = sorted((max(low, at - length), min(high, at + length) + ahead) for at, low, high in hits)
    current: list[int] | None = None
    for a, b in windows:
        if current is not None and a <= current[1]:
            current[1] = max(current[1], b)
            continue
        if current is not None:
            yield current[0], current[1]
        current = [a, b]
    if current is not None:
        yield current[0], current[1]


def scan(
    data: bytes,
    rules: Sequence[Rule] = BUILTIN_RULES,
    *,
    start: int = 0,
    stop: int | None = None,
    engine: str = "auto",
) -> Iterator[Finding]:
    """Every secret in ``data`` that a rule finds, in order of offset, offsets relative to ``data``.

    The result equals running each rule's regex with ``finditer`` over the whole buffer from
    ``start`` (keeping matches that start before ``stop``, default the end, and whose value the
    rule validates), except that where the values of two findings overlap only the one whose
    rule comes first in ``rules`` is kept (``BUILTIN_RULES`` is ordered most specific first:
    a Kubernetes token is not also reported as a JWT).  Bytes before ``start`` are only read
    by lookbehinds and bytes from ``stop`` on only complete a match that starts before it, which
    is what ``scan_range`` needs to cut a large range into chunks.

    ``engine``: "python", "hyperscan" (raises UnsupportedError when the hyperscan package is not
    installed) or "auto" (hyperscan when importable).  Both give the same findings.
    """
    data = bytes(data)
    stop = len(data) if stop is None else min(stop, len(data))
    if start >= stop:
        return
    plan = _plan(tuple(rules))
    if engine == "auto":
        engine = "hyperscan" if hyperscan_available() else "python"
    if engine == "hyperscan":
        if not hyperscan_available():
            raise UnsupportedError("the hyperscan engine needs the hyperscan package (pip install hyperscan)")
        hits = _hyperscan_hits(plan, data, start)
    elif engine == "python":
        hits = _python_hits(plan, data, start)
    else:
        raise ValueError(f"unknown engine {engine!r}")

    per_rule: list[list[_Hit]] = [[] for _ in plan.rules]
    for k, keyword_hits in enumerate(hits):
        for index in plan.users[k]:
            per_rule[index].extend(keyword_hits)

    candidates: list[tuple[int, int, int, int, bytes]] = []  # (rule index, match start, value start, end, value)
    for index, rule in enumerate(plan.rules):
        if index in plan.whole:
            regions: Iterable[tuple[int, int]] = [(start, len(data))]
        elif per_rule[index]:
            regions = _regions(per_rule[index], rule.max_length or 0, rule.shape.ahead + 1)
        else:
            continue
        for low, high in regions:
            for match in rule.regex.finditer(data, low, high):
                value = match.group(rule.group)
                if not value or (rule.validate is not None and not rule.validate(value)):
                    continue
                candidates.append((index, match.start(), match.start(rule.group), match.end(rule.group), value))

    kept = _first_rule_wins(candidates)
    kept.sort(key=lambda c: (c[2], c[0]))
    for index, match_start, value_start, value_end, value in kept:
        if match_start < stop:
            yield Finding(plan.rules[index], value_start, value_end, value)


def _first_rule_wins(candidates: list[tuple[int, int, int, int, bytes]]) -> list[tuple[int, int, int, int, bytes]]:
    """Drop each candidate whose value overlaps the value of one from an earlier rule."""
    candidates.sort(key=lambda c: (c[0], c[2]))
    starts: list[int] = []
    kept: list[tuple[int, int, int, int, bytes]] = []  # disjoint, sorted by value start
    for candidate in candidates:
        _, _, a, b, _ = candidate
        at = bisect.bisect_right(starts, a)
        if at and kept[at - 1][3] > a:
            continue
        if at < len(kept) and kept[at][2] < b:
            continue
        starts.insert(at, a)
        kept.insert(at, candidate)
    return kept


def margins(rules: Sequence[Rule] = BUILTIN_RULES) -> tuple[int, int]:
    """Bytes of context a chunk needs before its first and after its last offset."""
    before = max((r.shape.behind for r in rules), default=0) + 1
    after = max(((r.max_length or 0) + r.shape.ahead for r in rules), default=0) + 1
    return before, after


DEFAULT_CHUNK = 8 << 20


def scan_range(
    read_at: Callable[[int, int], bytes],
    size: int,
    rules: Sequence[Rule] = BUILTIN_RULES,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    engine: str = "auto",
) -> Iterator[Finding]:
    """``scan`` over ``size`` bytes read in chunks by ``read_at(offset, length)``; offsets from 0.

    Chunks overlap by the longest match a rule can make, so a secret that straddles a chunk
    edge is found once, as if the range had been scanned whole.  Use it per contiguous run of
    memory: a match across two unrelated mappings must not be invented.
    """
    before, after = margins(rules)
    position = 0
    while position < size:
        low = max(0, position - before)
        high = min(size, position + chunk_size + after)
        data = read_at(low, high - low)
        stop = min(position + chunk_size, size) - low
        for finding in scan(data, rules, start=position - low, stop=stop, engine=engine):
            yield replace(finding, start=finding.start + low, end=finding.end + low)
        position += chunk_size


# ---------------------------------------------------------------------------------------------
# Reporting helpers

T = TypeVar("T")


@dataclass(frozen=True)
class Deduplicated(Generic[T]):
    """The first of a group of equal findings, and how many there were."""

    first: T
    count: int


def finding_key(item: Any) -> Hashable:
    """(pid, rule id, value): ``pid`` is None for items that have none, such as a bare Finding."""
    return getattr(item, "pid", None), item.rule.id, item.value


def dedupe(items: Iterable[T], key: Callable[[T], Hashable] = finding_key) -> list[Deduplicated[T]]:
    """One entry per distinct ``key`` in first-seen order, keeping the first item (its address)."""
    firsts: dict[Hashable, T] = {}
    counts: Counter[Hashable] = Counter()
    for item in items:
        k = key(item)
        firsts.setdefault(k, item)
        counts[k] += 1
    return [Deduplicated(first, counts[k]) for k, first in firsts.items()]


def _printable(value: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in value)


def redact(value: bytes, shown: int = 4) -> str:
    """``ghp_…(40 chars)``: at most ``shown`` leading bytes, fewer for short values, and the length."""
    keep = min(shown, len(value) // 4)
    return f"{_printable(value[:keep])}…({len(value)} chars)"


# ---------------------------------------------------------------------------------------------
# User rules

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
    validate = _random_enough(float(min_entropy)) if min_entropy else None
    return Rule(rule_id, description, severity, compiled, group, None, validate, tuple(k.encode() for k in keywords))


def _typed(table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = table.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(f"{key!r} must be of type {names}, not {type(value).__name__}")
    return value
