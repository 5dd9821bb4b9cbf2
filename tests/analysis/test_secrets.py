"""Credential rules: every rule on a positive example and a near miss, the scanner against a plain
reference, its chunking and its two engines, noise on random and real memory, and user rules.

Every example secret is generated here at run time from a seeded RNG and joined from fragments,
so this file holds nothing that a secret scanner would take for a leaked credential.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from checkforensics.analysis import redaction, secrets
from checkforensics.analysis.secrets import (
    BUILTIN_RULES,
    Finding,
    Rule,
    RuleError,
    Severity,
    dedupe,
    load_rules,
    scan,
    scan_range,
)
from checkforensics.errors import CheckforensicsError
from checkforensics.model import CheckpointModel

from conftest import FIXTURES, truth

RNG = random.Random(20240607)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def rand(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def b64url_json(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def jwt(header: dict, payload: dict) -> str:
    return ".".join([b64url_json(header), b64url_json(payload), rand(B64URL, 43)])


PK = "PRIVATE" + " KEY"  # split so that this file has no key armor in it


def armor(label: str, body: str, newline: str = "\n") -> str:
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return newline.join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


KEY_BODY = b64(RNG.randbytes(600))
OPENSSH_BODY = b64(b"openssh-" + b"key-v1\0" + RNG.randbytes(400))
PGP_BODY = "\n" + b64(RNG.randbytes(500)) + "\n=" + rand(ALNUM, 4)
K8S_CLAIMS = {
    "iss": "kubernetes" + "/serviceaccount",
    "kubernetes.io/serviceaccount/namespace": "default",
    "sub": "system:serviceaccount:default:builder",
}
JWT_HEADER = {"alg": "RS256", "typ": "JWT"}


@dataclass(frozen=True)
class Case:
    rule: str
    text: str  # the bytes around it, with the secret
    value: str  # what the finding's value must be
    near_miss: str  # looks alike, must not give a finding of this rule


def case(rule: str, before: str, value: str, after: str, near_miss: str) -> Case:
    return Case(rule, before + value + after, value, near_miss)


def _cases() -> list[Case]:
    sa_key = armor(PK, KEY_BODY, "\\n") + "\\n"
    aws_id = "AK" + "IA" + rand(BASE32, 16)
    aws_secret = rand(ALNUM + "/+", 40)
    gh_body = rand(ALNUM, 36)
    stripe_body = rand(ALNUM, 32)
    slack_team = "".join(RNG.choice("0123456789") for _ in range(11))
    bot_secret = rand(ALNUM, 24)
    user_pass = b64(b"robot$ci:" + rand(ALNUM, 20).encode())
    return [
        case(
            "gcp-service-account-key",
            '{\n  "type": "service_'
            + 'account",\n  "project_id": "demo",\n  "private_key_id": "'
            + rand(HEX, 40)
            + '",\n  "private_key": "',
            sa_key,
            '",\n  "client_email": "ci@demo.iam.gserviceaccount.com"\n}',
            '{"type": "authorized_user", "private_key": "' + sa_key + '"}',
        ),
        case("private-key-pem", "key file:\n", armor("RSA " + PK, KEY_BODY), "\n", armor("RSA PUBLIC KEY", KEY_BODY)),
        case(
            "private-key-pem-encrypted",
            "",
            armor("ENCRYPTED " + PK, KEY_BODY),
            "\n",
            armor("ENCRYPTED " + PK, "A" * 400),  # no entropy: a template, not a key
        ),
        case(
            "openssh-private-key",
            "",
            armor("OPENSSH " + PK, OPENSSH_BODY),
            "\n",
            armor("OPENSSH " + PK, KEY_BODY),  # not the openssh-key-v1 format inside
        ),
        case(
            "pgp-private-key",
            "",
            armor("PGP " + PK + " BLOCK", "Version: GnuPG v2\n" + PGP_BODY),
            "\n",
            armor("PGP PUBLIC KEY BLOCK", PGP_BODY),
        ),
        case(
            "kubernetes-service-account-token",
            "token: ",
            jwt(JWT_HEADER, K8S_CLAIMS),
            "\n",
            jwt(JWT_HEADER, {"iss": "https://login.example.com", "sub": "alice"}),
        ),
        case("aws-access-key-id", "aws_access_key_id = ", aws_id, "\n", "AK" + "IA" + rand(BASE32, 15) + "\n"),
        case(
            "aws-secret-access-key",
            "aws_secret_access_key = ",
            aws_secret,
            "\n",
            "aws_secret_access_key = " + aws_secret[:39] + "\n",
        ),
        case("gcp-api-key", "key=", "AI" + "za" + rand(B64URL, 35), "&", "AI" + "za" + rand(B64URL, 34) + "&"),
        case(
            "azure-storage-account-key",
            "DefaultEndpointsProtocol=https;AccountName=demo;Account" + "Key=",
            b64(RNG.randbytes(64)),
            ";EndpointSuffix=core.windows.net",
            "AccountName=demo;Account" + "Key=" + b64(RNG.randbytes(32)) + ";",
        ),
        case(
            "azure-shared-access-key",
            "Endpoint=sb://demo.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccess" + "Key=",
            b64(RNG.randbytes(32)),
            "",
            "SharedAccessKeyName=Root;SharedAccess" + "Key=" + b64(RNG.randbytes(16)),
        ),
        case(
            "github-fine-grained-pat",
            "GH_TOKEN ",
            "github" + "_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59),
            " ",
            "github" + "_pat_" + rand(ALNUM, 22) + " ",
        ),
        case("github-pat", "token ", "gh" + "p_" + gh_body, "\n", "gh" + "p_" + gh_body[:35] + "\n"),
        case("github-oauth-token", "token ", "gh" + "o_" + gh_body, "\n", "gh" + "o_" + "x" * 36 + "\n"),
        case("github-user-token", "token ", "gh" + "u_" + gh_body, "\n", "gh" + "u_" + gh_body[:30] + "\n"),
        case("github-app-token", "token ", "gh" + "s_" + gh_body, "\n", "gh" + "x_" + gh_body + "\n"),
        case("github-refresh-token", "token ", "gh" + "r_" + gh_body, "\n", "gh" + "r_" + gh_body[:35] + "\n"),
        case("gitlab-pat", "PRIVATE-TOKEN: ", "gl" + "pat-" + rand(B64URL, 20), "\n", "gl" + "pat-" + "short\n"),
        case("gitlab-token", "runner token ", "gl" + "rt-" + rand(B64URL, 20), "\n", "gl" + "xx-" + rand(B64URL, 20)),
        case(
            "slack-bot-token",
            "SLACK ",
            "xo" + "xb-" + slack_team + "-" + slack_team[::-1] + "1-" + bot_secret,
            "\n",
            "xo" + "xb-" + slack_team + "-" + bot_secret + "\n",  # no bot id: the fallback rule's business
        ),
        case(
            "slack-user-token",
            "SLACK ",
            "xo" + "xp-" + slack_team + "-" + slack_team + "2-" + slack_team + "3-" + rand(HEX, 32),
            "\n",
            "xo" + "xp-" + slack_team + "-" + rand(HEX, 32) + "\n",
        ),
        case(
            "slack-token",
            "SLACK_APP_TOKEN ",
            "xa" + "pp-1-A0" + slack_team + "-" + slack_team + "-" + rand(HEX, 64),
            "\n",
            "xa" + "pp-1-" + "a" * 20 + "\n",
        ),
        case(
            "slack-webhook",
            "url: ",
            "https://hooks.slack"
            + ".com/services/T0"
            + rand(BASE32, 8)
            + "/B0"
            + rand(BASE32, 8)
            + "/"
            + rand(ALNUM, 24),
            "\n",
            "https://hooks.slack" + ".com/services/\n",
        ),
        case("stripe-secret-key", "Stripe ", "sk" + "_live_" + stripe_body, ";", "sk" + "_live_" + stripe_body[:20]),
        case("stripe-restricted-key", "", "rk" + "_live_" + stripe_body, "", "rk" + "_live_" + "0" * 32),
        case("stripe-test-key", "", "sk" + "_test_" + stripe_body, "", "sk" + "_test_" + stripe_body[:23]),
        case("twilio-api-key", "sid=", "S" + "K" + rand(HEX, 32), "&", "S" + "K" + rand(HEX, 31) + "&"),
        case("twilio-account-sid", "sid=", "A" + "C" + rand(HEX, 32), "&", "A" + "C" + rand(HEX, 33) + "&"),
        case(
            "sendgrid-api-key",
            "key ",
            "S" + "G." + rand(B64URL, 22) + "." + rand(B64URL, 43),
            "\n",
            "S" + "G." + rand(B64URL, 22) + "." + rand(B64URL, 20) + "\n",
        ),
        case("npm-token", "//registry.npmjs.org/:_authToken=", "np" + "m_" + rand(ALNUM, 36), "\n", "np" + "m_abc\n"),
        case(
            "pypi-token",
            "password = ",
            "py" + "pi-AgEIcHlwaS5vcmc" + rand(B64URL, 60),
            "\n",
            "py" + "pi-AgEIcHlwaS5vcmc" + rand(B64URL, 20) + "\n",
        ),
        case(
            "anthropic-api-key",
            "x-api-key: ",
            "sk" + "-ant-api03-" + rand(B64URL, 93) + "AA",
            "\n",
            "sk" + "-ant-api03-" + rand(B64URL, 20) + "\n",
        ),
        case(
            "openai-api-key",
            "Authorization: Bearer ",
            "sk" + "-proj-" + rand(B64URL, 64),
            "\n",
            "sk" + "-" + rand(ALNUM, 30) + "\n",
        ),
        case(
            "jwt",
            "Cookie: session=",
            jwt(JWT_HEADER, {"sub": "1234567890", "name": "Alice", "iat": 1516239022}),
            ";",
            jwt({"typ": "JWT"}, {"sub": "1234567890"}),  # the header names no "alg"
        ),
        case(
            "database-url-password",
            "DATABASE_URL=postgresql+psycopg2://app:",
            "Qm" + rand(ALNUM, 14),
            "@db.internal:5432/app\n",
            "postgres://app:${DB_PASS" + "WORD}@db.internal/app\n",
        ),
        case(
            "encoded-credential-pair",
            '{"auths": {"registry.example.com": {"auth": "',
            user_pass,
            '"}}}',
            '{"auths": {"registry.example.com": {"auth": "' + b64(b"no-colon-here") + '"}}}',
        ),
        case(
            "http-bearer-token",
            "GET / HTTP/1.1\r\nAuthorization: Bearer ",
            rand(ALNUM, 40),
            "\r\n",
            "Authorization: Bearer " + "x" * 40 + "\r\n",
        ),
        case(
            "url-basic-auth",
            "git clone https://deploy:",
            "Tr0ub4dor-" + rand(ALNUM, 6),
            "@git.example.com/repo.git\n",
            "https://user:pass" + "word@example.com/\n",
        ),
        case(
            "password-in-json",
            '{"user": "alice", "pass' + 'word": "',
            "Zq" + rand(ALNUM, 10),
            '"}',
            '{"pass' + 'word": "change' + 'me"}',
        ),
        case(
            "env-secret",
            "PATH=/usr/bin\0DB_PASS" + "WORD=",
            "hunter2-" + rand(ALNUM, 6),
            "\0HOME=/root\0",
            "DB_PASS" + "WORD_FILE=/run/secrets/db\0TOKEN=${TOKEN}\0BYPASS=yes-indeed\0",
        ),
        case(
            "generic-key-assignment",
            "\0ENCRYPTION_KEY=",
            rand(ALNUM, 32),
            "\0",
            "\0GPG_KEY=" + rand(HEX.upper(), 40) + "\0SORT_KEY=" + "ab" * 10 + "\0",
        ),
    ]


CASES = _cases()


def ids(findings) -> list[str]:
    return [f.rule.id for f in findings]


def test_at_least_25_rules_with_unique_ids_and_a_case_each() -> None:
    rule_ids = [r.id for r in BUILTIN_RULES]
    assert len(rule_ids) >= 25
    assert len(set(rule_ids)) == len(rule_ids)
    assert sorted(c.rule for c in CASES) == sorted(rule_ids)
    assert all(re.fullmatch(r"[a-z0-9-]+", r) for r in rule_ids)


@pytest.mark.parametrize("example", CASES, ids=[c.rule for c in CASES])
def test_rule_finds_its_secret(example: Case) -> None:
    data = b"\x00\x13binary\xff " + example.text.encode() + b"\x00\x00"
    found = [f for f in scan(data, engine="python") if f.rule.id == example.rule]
    assert [f.value for f in found] == [example.value.encode()]
    finding = found[0]
    assert data[finding.start : finding.end] == finding.value
    # the rule's keywords really are in the match (the scanner depends on it)
    rule = finding.rule
    match = next(m for m in rule.regex.finditer(data) if m.start(rule.group) == finding.start)
    matched = match.group(0).lower() if rule.keywords_ignore_case else match.group(0)
    assert any(k in matched for k in rule.keywords)


@pytest.mark.parametrize("example", CASES, ids=[c.rule for c in CASES])
def test_rule_ignores_its_near_miss(example: Case) -> None:
    data = b"\x00" + example.near_miss.encode() + b"\x00"
    assert example.rule not in ids(scan(data, engine="python"))


def test_specific_rules_win_over_generic_ones() -> None:
    k8s = next(c for c in CASES if c.rule == "kubernetes-service-account-token")
    assert ids(scan(k8s.text.encode())) == ["kubernetes-service-account-token"]  # not also "jwt"
    token = "gh" + "p_" + rand(ALNUM, 36)
    assert ids(scan(f"GITHUB_TOKEN={token}\0".encode())) == ["github-pat"]  # not also env-secret
    assert ids(scan(f"https://x-access-token:{token}@github.com/o/r\n".encode())) == ["github-pat"]
    aws = "AWS_SECRET_ACCESS_" + "KEY=" + rand(ALNUM + "/+", 40) + "\0"
    assert ids(scan(aws.encode())) == ["aws-secret-access-key"]


# Rules whose prefix is distinctive enough to be found right after any byte: a letter, or the
# length byte a database writes before a text value ("Sghp_...": a 40-byte PostgreSQL varlena).
AFTER_ANYTHING = (
    "aws-access-key-id", "gcp-api-key", "github-fine-grained-pat", "github-pat", "github-oauth-token",
    "github-user-token", "github-app-token", "github-refresh-token", "gitlab-pat", "gitlab-token",
    "slack-bot-token", "slack-user-token", "slack-token", "stripe-secret-key", "stripe-restricted-key",
    "stripe-test-key", "sendgrid-api-key", "npm-token", "pypi-token", "anthropic-api-key", "openai-api-key",
)  # fmt: skip


def _varlena(value: str) -> bytes:
    """A text value as PostgreSQL stores a short one: a length byte, (1 + len) * 2 + 1, before it."""
    return bytes([(1 + len(value)) * 2 + 1]) + value.encode()


@pytest.mark.parametrize("rule", AFTER_ANYTHING)
def test_prefixed_token_right_after_a_letter_or_a_length_byte(rule: str) -> None:
    value = next(c.value for c in CASES if c.rule == rule)
    for before in (b"K", b"x", b"7", b"\x53"):
        data = b"\x00\x13binary" + before + value.encode() + b"\x0b\x00"
        assert [(f.rule.id, f.value) for f in scan(data, engine="python")] == [(rule, value.encode())], before
    page = b"\x00" * 9 + _varlena(value) + _varlena("cfw") + b"\x00" * 7
    assert [(f.rule.id, f.value) for f in scan(page)] == [(rule, value.encode())]
    # the right-hand check stays: a token character right after it makes it something else
    assert (rule, value.encode()) not in [(f.rule.id, f.value) for f in scan(b" " + value.encode() + b"Q7 ")]


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("twilio-api-key", "S" + "K" + rand(HEX, 32)),
        ("twilio-account-sid", "A" + "C" + rand(HEX, 32)),
        ("openai-api-key", "sk" + "-" + rand(ALNUM, 48)),
        ("aws-access-key-id", "AS" + "IA" + rand(BASE32, 16)),
    ],
)
def test_short_or_wordlike_prefixes_still_stand_alone(rule: str, value: str) -> None:
    """SK, AC, sk- and ASIA also end ordinary words (DISK, MAC, desk-, EURASIA): after a letter
    they are not taken for a token; after a blank they are."""
    assert rule in ids(scan(f" {value} ".encode(), engine="python"))
    assert rule not in ids(scan(f" K{value} ".encode(), engine="python"))


BASIC = "Basic " + b64(b"cfw-user:" + rand(ALNUM, 16).encode())
BEARER = "Bearer " + rand(B64URL, 32)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (f"GET / HTTP/1.1\r\nAuthorization: {BASIC}\r\n", "encoded-credential-pair"),
        (f"GET / HTTP/1.1\r\nauthorization:{BASIC}\r\n", "encoded-credential-pair"),
        (f"CONNECT x:443 HTTP/1.1\r\nProxy-Authorization: {BASIC}\r\n", "encoded-credential-pair"),
        # nginx parses headers in place: NUL over the colon and at the end of the value
        (f"GET / HTTP/1.1\r\nHost\0 cfw\0\nAuthorization\0 {BASIC}\0\n", "encoded-credential-pair"),
        (f"GET / HTTP/1.1\r\nAuthorization: {BEARER}\r\n", "http-bearer-token"),
        (f"GET / HTTP/1.1\r\nHost\0 cfw\0\nAuthorization\0 {BEARER}\0\nConnection\0 close\0\n", "http-bearer-token"),
    ],
)  # fmt: skip
def test_authorization_headers_as_sent_and_as_nginx_keeps_them(text: str, rule: str) -> None:
    value = (BASIC if rule == "encoded-credential-pair" else BEARER).split(" ")[1]
    found = [(f.rule.id, f.value) for f in scan(b"\x00\x7f" + text.encode() + b"\x00", engine="python")]
    assert found == [(rule, value.encode())]


@pytest.mark.parametrize(
    "text",
    [
        BASIC,  # the value alone, with no header name before it
        BEARER,
        f"WWW-Authenticate: {BASIC}",
        "Authorization: Basic realm=restricted-area-of-the-site",
        "Authorization: Basic " + b64(b"no colon in it at all"),
        "Authorization\0 Bearer " + "a" * 32,  # no entropy
        "Authorization: Bearer %s",
    ],
)
def test_no_authorization_header_no_finding(text: str) -> None:
    found = ids(scan(b"\x00" + text.encode() + b"\x00\n", engine="python"))
    assert not {"encoded-credential-pair", "http-bearer-token"} & set(found)


PAIR = b64(b"cfw-deployer:" + rand(ALNUM, 18).encode())


@pytest.mark.parametrize(
    "text",
    [
        f"GET / HTTP/1.1\r\nAuthorization: Basic {PAIR}\r\n",
        f'{{\n\t"auths": {{\n\t\t"registry.example.net": {{\n\t\t\t"auth": "{PAIR}"\n\t\t}}\n\t}}\n}}\n',
        f"//registry.npmjs.org/:_auth={PAIR}\nalways-auth=true\n",  # .npmrc
        f'_auth = "{PAIR}"\n',
        f"PATH=/bin\0CFW_REGISTRY={PAIR}\0HOME=/root\0",  # an environment, whatever the name
        f"export creds='{PAIR}'; curl -H \"Authorization: Basic $creds\" https://x.example/\n",  # a shell line
    ],
)  # fmt: skip
def test_encoded_credential_pair_wherever_it_is_kept(text: str) -> None:
    found = [(f.rule.id, f.value) for f in scan(b"\x00\x7f" + text.encode() + b"\x00", engine="python")]
    assert found == [("encoded-credential-pair", PAIR.encode())]


@pytest.mark.parametrize(
    "text",
    [
        PAIR,  # no context: a bare base64 word cannot be told from any other without noise
        f"X=={PAIR}",  # "=" after "=", no name
        f"X={PAIR}A",  # not the whole value
        f"X={PAIR}.example",
        f"X={PAIR[:12]}",  # cut before the colon: no longer a pair
        "X=" + b64(b"no-colon-in-it-at-all"),
        "X=" + b64(b"two:colons:here"),
        "X=" + b64(b"blank user:password1"),
        "X=" + b64(b":no-user-at-all"),
        "X=" + b64(b"user:"),
        "X=" + b64(b"user:\x00\x01binary"),
        "X=" + b64(b"admin:password"),  # a placeholder
        "X=" + b64(b"admin:changeme"),
        "X=" + b64(b"cfw-user:pw" + rand(ALNUM, 6).encode()).rstrip("="),  # padding cut off: not canonical
        "X=" + b64(b"u:" + b"p" * 3073),  # longer than any registry's or browser's
    ],
)  # fmt: skip
def test_no_credential_pair_no_finding(text: str) -> None:
    assert "encoded-credential-pair" not in ids(scan(b"\x00" + text.encode() + b"\x00\n", engine="python"))


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("PGPASSWORD", True), ("MYSQL_PWD", True), ("REDISCLI_AUTH", True), ("DB_PASSWORD", True),
        ("MYSQL_ROOT_PASSWORD", True), ("CLIENTSECRET", True), ("GITHUBTOKEN", True), ("PASSWORD2", True),
        ("SMTP_PASS", True), ("HTTP_AUTHORIZATION", True), ("API_KEY", True), ("SECRET_KEY_BASE", True),
        ("ACCESSKEY", True), ("NPM_CONFIG__AUTH", True), ("VAULT_TOKEN", True), ("PASSPHRASE", True),
        ("PWD", False), ("OLDPWD", False), ("SSH_AUTH_SOCK", False), ("BYPASS", False), ("XAUTHORITY", False),
        ("DB_PASSWORD_FILE", False), ("PGPASSFILE", False), ("AWS_ACCESS_KEY_ID", False), ("NO_AUTH", False),
        ("TOKEN_EXPIRY", False), ("GIT_AUTHOR_NAME", False), ("KEY", False), ("AUTH_URL", False),
        ("PASSWORDLESS_LOGIN", False), ("TOKENIZERS_PARALLELISM", False), ("SECRET_NAME", False),
    ],
)  # fmt: skip
def test_env_secret_names_are_the_redaction_policys(name: str, credential: bool) -> None:
    """One notion of a credential's name: env-secret finds NAME=value in memory exactly when
    analysis.redaction would hide the value of NAME in an environment."""
    value = "Zq8v-" + rand(ALNUM, 12)
    found = [(f.rule.id, f.value) for f in scan(f"\0HOME=/root\0{name}={value}\0LANG=C\0".encode())]
    assert secrets.is_credential_name(name) is credential
    assert (("env-secret", value.encode()) in found) is credential
    assert redaction.is_secret(name, value) is credential


def test_env_secret_placeholders_in_documents() -> None:
    """Python's smtplib documents "AUTH=<mechanism>."; a template is no secret at a sentence's end."""
    text = b"\n        form AUTH=<mechanism>.\n\0DB_PASSWORD=changeme.\0export PGPASSWORD=${PW};\n"
    assert ids(scan(text)) == []


def test_the_planted_environment_of_the_blog_fixture() -> None:
    data = b"\0".join(
        [
            b"AWS_SECRET_ACCESS_" + b"KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            b"DB_PASS" + b"WORD=hunter2-blog",
            b"",
        ]
    )
    found = [(f.rule.id, f.value) for f in scan(data)]
    assert found == [
        ("aws-secret-access-key", b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("env-secret", b"hunter2-blog"),
    ]


# ---------------------------------------------------------------------------------------------
# The scanner against a plain reference: each regex over the whole buffer, first rule wins.


def reference(data: bytes, rules=BUILTIN_RULES) -> list[tuple[str, int, int, bytes]]:
    candidates = []
    for index, rule in enumerate(rules):
        for match in rule.regex.finditer(data):
            value = match.group(rule.group)
            if rule.validate_match is not None and not rule.validate_match(match):
                continue
            if value and (rule.validate is None or rule.validate(value)):
                candidates.append((index, match.start(rule.group), match.end(rule.group), value))
    kept: list[tuple[int, int, int, bytes]] = []
    for candidate in sorted(candidates):
        if not any(k[1] < candidate[2] and candidate[1] < k[2] for k in kept):
            kept.append(candidate)
    kept.sort(key=lambda c: (c[1], c[0]))
    return [(rules[i].id, a, b, v) for i, a, b, v in kept]


def as_tuples(findings) -> list[tuple[str, int, int, bytes]]:
    return [(f.rule.id, f.start, f.end, f.value) for f in findings]


@pytest.fixture(scope="module")
def corpus() -> bytes:
    """Every positive example, and every near miss, between random binary and runs of text."""
    rng = random.Random(7)
    parts = []
    for example in CASES:
        parts += [rng.randbytes(rng.randrange(0, 3000)), example.text.encode(), b"\0"]
        parts += [b"some text between them, key = value; password: none\n" * rng.randrange(0, 4)]
        parts += [example.near_miss.encode(), b"\0"]
    return b"".join(parts)


def test_scan_equals_the_reference(corpus: bytes) -> None:
    expected = reference(corpus)
    assert as_tuples(scan(corpus, engine="python")) == expected
    assert {c.rule for c in CASES} <= {e[0] for e in expected}


def test_scan_range_finds_the_same_wherever_chunks_end(corpus: bytes) -> None:
    whole = list(scan(corpus, engine="python"))
    for chunk_size in (997, 4096, 65536):
        chunked = list(scan_range(lambda o, n: corpus[o : o + n], len(corpus), chunk_size=chunk_size, engine="python"))
        assert chunked == whole, chunk_size


def test_start_and_stop_bound_where_matches_start() -> None:
    token = ("gh" + "p_" + rand(ALNUM, 36)).encode()
    data = b"xx " + token + b" yy " + token + b" zz"
    second = data.rindex(token)
    assert [f.start for f in scan(data)] == [3, second]
    assert [f.start for f in scan(data, stop=second)] == [3]
    assert [f.start for f in scan(data, start=4)] == [second]
    assert [f.start for f in scan(data, stop=second + 1)] == [3, second]  # completed past stop
    assert list(scan(data, start=10, stop=10)) == []


def test_hyperscan_engine_gives_the_same_findings(corpus: bytes) -> None:
    if not secrets.hyperscan_available():
        with pytest.raises(CheckforensicsError, match="hyperscan"):
            list(scan(b"x", engine="hyperscan"))
        pytest.skip("hyperscan is not installed")
    noise = random.Random(3).randbytes(1 << 20)
    for data in (corpus, noise + corpus + noise):
        assert list(scan(data, engine="hyperscan")) == list(scan(data, engine="python"))
    no_keywords = [Rule("b", "d", Severity.LOW, re.compile(rb"[0-9]{3}-[0-9]{4}"))]
    data = b"call 555-0199 or 555-0100"
    assert list(scan(data, no_keywords, engine="hyperscan")) == list(scan(data, no_keywords, engine="python"))


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="engine"):
        list(scan(b"abc", engine="grep"))


# ---------------------------------------------------------------------------------------------
# Noise


def test_48_mib_of_random_bytes_give_next_to_nothing() -> None:
    data = random.Random(1).randbytes(48 << 20)
    began = time.perf_counter()
    found = list(scan(data, engine="python"))
    seconds = time.perf_counter() - began
    print(f"pure-Python scan: {len(data) / 1e6 / seconds:.0f} MB/s, {len(found)} findings")
    assert len(found) <= 3, as_tuples(found)[:10]
    assert "encoded-credential-pair" not in ids(found)  # "=" and "Basic" occur, pairs must not


def test_random_filler_with_planted_secrets_finds_exactly_them() -> None:
    rng = random.Random(5)
    planted = [c for c in CASES if c.rule in ("private-key-pem", "jwt", "stripe-secret-key", "slack-bot-token")]
    chunks, offsets = [], {}
    position = 0
    for example in planted:
        filler = rng.randbytes(1 << 20)
        chunks += [filler, example.text.encode()]
        offsets[example.rule] = position + len(filler) + example.text.index(example.value)
        position += len(filler) + len(example.text)
    data = b"".join(chunks)
    found = {f.rule.id: f.start for f in scan(data)}
    assert found == offsets


def _process_findings(path: Path) -> dict[int, list[tuple[int, str, bytes]]]:
    """pid -> (virtual address, rule id, value) of every finding in its dumped memory."""
    result: dict[int, list[tuple[int, str, bytes]]] = {}
    with CheckpointModel.open(path) as checkpoint:
        for process in checkpoint.tree.processes:
            space = checkpoint.memory(process.pid).space
            found = result.setdefault(process.pid, [])
            for vaddr, offset, length in space.present_extents():
                read = lambda o, n, space=space, base=offset: space.read_dumped(base + o, n)  # noqa: E731
                found += [(vaddr + f.start, f.rule.id, f.value) for f in scan_range(read, length)]
    return result


def test_blog_fixture_secrets_are_found_in_the_right_processes_and_nothing_else() -> None:
    planted = {
        "gh" + "p_R3alLookingGitHubTokenValue0123456789": "github-pat",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "aws-secret-access-key",
        "hunter2-blog": "env-secret",
    }
    found = _process_findings(FIXTURES / "counters-blog.tar")
    for facts in truth("counters-blog")["processes"]:
        expected = {(planted[s], s) for s in facts["secret_addresses"] if s in planted}
        got = {(rule, value.decode()) for _, rule, value in found[facts["pid"]]}
        assert got == expected, facts["pid"]
        for address, _, value in found[facts["pid"]]:
            assert address in facts["secret_addresses"][value.decode()]
    github = [a for a, rule, _ in found[7] if rule == "github-pat"]
    assert sorted(github) == sorted(truth("counters-blog")["processes"][1]["secret_addresses"][next(iter(planted))])


@pytest.mark.parametrize(
    ("path", "values"),
    [
        (FIXTURES / "busybox-counter-criu41.tar", {b"RANDOM_1432_KEY"}),
        (FIXTURES / "bare-bash-sleep", {b"BARE_DUMP_SECRET_42"}),
        (FIXTURES / "inflight.tar.zst", set()),
    ],
)
def test_other_fixtures_give_only_their_planted_values(path: Path, values: set[bytes]) -> None:
    found = _process_findings(path)
    assert {value for findings in found.values() for _, _, value in findings} == values


# ---------------------------------------------------------------------------------------------
# Helpers


@dataclass(frozen=True)
class Located:
    pid: int
    address: int
    rule: Rule
    value: bytes


def test_dedupe_keeps_the_first_address_and_counts() -> None:
    rule = BUILTIN_RULES[0]
    items = [Located(1, 0x10, rule, b"a"), Located(1, 0x20, rule, b"a"), Located(2, 0x30, rule, b"a")]
    items.append(Located(1, 0x40, rule, b"b"))
    groups = dedupe(items)
    assert [(g.first.pid, g.first.address, g.first.value, g.count) for g in groups] == [
        (1, 0x10, b"a", 2),
        (2, 0x30, b"a", 1),
        (1, 0x40, b"b", 1),
    ]
    assert [g.count for g in dedupe(items, key=lambda item: item.value)] == [3, 1]
    bare = [Finding(rule, 1, 2, b"x"), Finding(rule, 5, 6, b"x")]
    assert [(g.first.start, g.count) for g in dedupe(bare)] == [(1, 2)]


def test_severity_is_ordered_and_parsed() -> None:
    assert Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert Severity.parse(" High ") is Severity.HIGH
    assert str(Severity.CRITICAL) == "critical"
    with pytest.raises(ValueError, match="critical, high, medium, low"):
        Severity.parse("urgent")
    by_id = {r.id: r.severity for r in BUILTIN_RULES}
    assert by_id["stripe-test-key"] < by_id["stripe-secret-key"]


def test_rules_measure_their_own_length() -> None:
    rule = Rule("r", "d", Severity.LOW, re.compile(rb"(?<![a-z])tok_[a-z]{4,10}(?=\s)"), keywords=(b"tok_",))
    assert rule.max_length == 14
    assert (rule.shape.min_length, rule.shape.ahead, rule.shape.behind) == (8, 1, 1)
    with pytest.raises(ValueError, match="unbounded"):
        Rule("r", "d", Severity.LOW, re.compile(rb"tok_[a-z]+"))
    with pytest.raises(ValueError, match="empty"):
        Rule("r", "d", Severity.LOW, re.compile(rb"x?"))
    with pytest.raises(ValueError, match="group 2"):
        Rule("r", "d", Severity.LOW, re.compile(rb"(x)y"), group=2)
    with pytest.raises(ValueError, match="shorter"):
        Rule("r", "d", Severity.LOW, re.compile(rb"abcdef"), max_length=3)
    assert all(r.shape.text_only for r in BUILTIN_RULES)


def test_rules_without_keywords_and_binary_rules_still_scan() -> None:
    prefixed = Rule("p", "d", Severity.LOW, re.compile(rb"ACME-[0-9]{6}"))
    assert prefixed.keywords == (b"ACME-",)
    bare = Rule("b", "d", Severity.LOW, re.compile(rb"[0-9]{3}-[0-9]{4}"))
    assert bare.keywords == ()
    binary = Rule("m", "d", Severity.LOW, re.compile(rb"\x7fELF[\x01\x02]"), keywords=(b"\x7fELF",))
    assert not binary.shape.text_only
    data = b"\xff\x00ACME-123456 call 555-0199 \x7fELF\x02\x01"
    rules = [prefixed, bare, binary]
    assert as_tuples(scan(data, rules, engine="python")) == reference(data, rules)
    assert ids(scan(data, rules)) == ["p", "b", "m"]


# ---------------------------------------------------------------------------------------------
# User rules


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


def test_load_rules_reads_the_documented_format(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[rule]]
id = "acme-api-key"
description = "ACME internal API key"
severity = "high"
regex = 'acme_(?P<v>[a-z0-9]{32})'
group = 1
keywords = ["acme_"]
min_entropy = 3.0

[[rule]]
id = "internal-password"
severity = "medium"
regex = 'intpw:[A-Za-z0-9]{8,64}'
ignore_case = true
""",
    )
    acme, internal = load_rules(path)
    assert (acme.id, acme.severity, acme.description, acme.group) == (
        "acme-api-key",
        Severity.HIGH,
        "ACME internal API key",
        1,
    )
    assert internal.keywords == (b"intpw:",) and internal.keywords_ignore_case
    value = rand(HEX, 32).encode()
    data = b"\0acme_" + value + b"\0INTPW:abcdefgh12\0acme_" + b"0" * 32 + b"\0"
    found = as_tuples(scan(data, [acme, internal, *BUILTIN_RULES]))
    assert [(rule, v) for rule, _, _, v in found] == [
        ("acme-api-key", value),
        ("internal-password", b"INTPW:abcdefgh12"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]]\nid = 'x'\nseverity = 'high'\nregex = 'a(b'\n", r"rule 'x': bad regex: missing \), unterminated"),
        ("[[rule]]\nid = 'x'\nseverity = 'high'\nregex = 'ab+'\n", "rule 'x': regex can match more than"),
        ("[[rule]]\nid = 'x'\nseverity = 'urgent'\nregex = 'ab'\n", "rule 'x': severity 'urgent' is not one of"),
        ("[[rule]]\nid = 'x'\nseverity = 'high'\n", "rule 'x': missing 'regex'"),
        ("[[rule]]\nid = 'x'\nseverity = 'high'\nregex = 'ab'\nflavour = 1\n", "rule 'x': unknown key 'flavour'"),
        ("[[rule]]\nid = 'x'\nseverity = 'high'\nregex = 'ab'\ngroup = '1'\n", "rule 'x': 'group' must be of type int"),
        ("[[rule]]\nid = 'Bad Id'\nseverity = 'high'\nregex = 'ab'\n", "rule 'Bad Id': id must be"),
        ("[[rule]]\nid = 'jwt'\nseverity = 'high'\nregex = 'ab'\n", "rule 'jwt': id already used"),
        ("[[rule]]\nseverity = 'high'\nregex = 'ab'\n", "rule '#1': missing 'id'"),
        ("[[rules]]\nid = 'x'\n", "unknown top-level key 'rules'"),
        ("title = 'no rules'\n", "unknown top-level key 'title'"),
        ("[[rule]\n", "not valid TOML"),
        ("", "no \\[\\[rule\\]\\] tables"),
    ],
)
def test_load_rules_errors_name_the_file_and_the_rule(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RuleError, match=message) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, CheckforensicsError)


def test_load_rules_refuses_duplicates_and_missing_files(tmp_path: Path) -> None:
    rule = "[[rule]]\nid = 'x'\nseverity = 'low'\nregex = 'abc'\n"
    with pytest.raises(RuleError, match="rule 'x': id already used"):
        load_rules(write(tmp_path, rule + rule))
    with pytest.raises(RuleError, match="cannot read rules file"):
        load_rules(tmp_path / "absent.toml")


def test_docs_list_every_rule() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "secrets.md").read_text()
    for rule in BUILTIN_RULES:
        assert f"`{rule.id}`" in text, rule.id
