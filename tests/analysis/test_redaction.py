"""The redaction policy: which names and values are secret, and the one form a masked value takes."""

from __future__ import annotations

import json

import pytest

from checkforensics.analysis.redaction import (
    REDACT,
    REVEAL,
    argv_spans,
    environment_spans,
    is_credential_name,
    is_secret,
    mask,
    secret_spans,
)

from conftest import FIXTURES, SCENARIOS

# Built at run time so that no scanner takes this file for a leak.
STRIPE = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GITHUB = "gh" + "p_" + "R3alLookingGitHubTokenValue0123456789"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.mark.parametrize(
    "name",
    [
        "PGPASSWORD", "MYSQL_PWD", "REDISCLI_AUTH", "DB_PASSWORD", "API_KEY", "AWS_SECRET_ACCESS_KEY",
        "MYSQL_ROOT_PASSWORD", "GITHUB_TOKEN", "ID_TOKEN", "CLIENT_SECRET", "SECRET_KEY_BASE", "SMTP_PASS",
        "NPM_CONFIG__AUTH", "HTTP_AUTHORIZATION", "DOCKER_AUTH_CONFIG", "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        "db_password", "apiKey", "dbPassword", "--db-password", "-Dspring.datasource.password", "PASSWORD2",
        "ACCESSKEY", "PRIVATE_KEY", "auth", "PASSPHRASE",
    ],
)  # fmt: skip
def test_credential_names(name: str) -> None:
    assert is_credential_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "PWD",  # the working directory, not a password
        "OLDPWD", "PATH", "HOME", "HOSTNAME", "TERM", "AUTHOR", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "XAUTHORITY",
        "SSH_AUTH_SOCK", "AUTH_URL", "AUTH_TYPE", "DB_PASSWORD_FILE", "POSTGRES_PASSWORD_FILE", "PGPASSFILE",
        "AWS_ACCESS_KEY_ID", "TOKENIZERS_PARALLELISM", "PASSWORDLESS_LOGIN", "BYPASS_PROXY", "OAUTH_CLIENT_ID",
        "GPG_KEY", "PUBLIC_KEY", "KEY", "NO_AUTH", "--skip-password", "--password-stdin", "TOKEN_EXPIRY",
        "SECRET_NAME", "container", "_", "",
    ],
)  # fmt: skip
def test_not_credential_names(name: str) -> None:
    assert not is_credential_name(name)


def test_environment_by_name() -> None:
    shown = REDACT.environment(["DB_PASSWORD=hunter2-blog", "MYSQL_PWD=pw", "PWD=/tmp", "OLDPWD=/work/main"])
    assert shown == ["DB_PASSWORD=hun…(12 chars)", "MYSQL_PWD=…(2 chars)", "PWD=/tmp", "OLDPWD=/work/main"]
    assert REDACT.environment(["PGPASSWORD=", "HOME=/root", "NOEQUALS"]) == ["PGPASSWORD=", "HOME=/root", "NOEQUALS"]
    assert is_secret("REDISCLI_AUTH", "s3cret") and not is_secret("REDISCLI_AUTH", "")
    assert not is_secret("PWD", "/tmp") and not is_secret("PATH", "/usr/bin:/bin")


def test_environment_by_value_rules() -> None:
    """A harmless name does not save a value that a credential rule recognises."""
    entries = [f"STRIPE={STRIPE}", f"SESSION={JWT}", "DATABASE_URL=postgres://app:s3cretpw@db:5432/app"]
    assert REDACT.environment(entries) == [
        "STRIPE=sk_l…(32 chars)",
        f"SESSION={mask(JWT)}",
        "DATABASE_URL=postgres://app:s3…(8 chars)@db:5432/app",  # only the password: the host stays
    ]
    assert all(is_secret(*entry.split("=", 1)) for entry in entries)
    assert environment_spans([f"X={STRIPE}"]) == [[(2, 2 + len(STRIPE))]]


def test_a_pem_key_in_the_environment() -> None:
    key = json.loads((SCENARIOS / "creds.truth.json").read_text())["markers"][3]
    assert key.startswith("-----BEGIN PRIVATE KEY-----")
    (shown,) = REDACT.environment([f"TLS={key}"])
    assert shown == f"TLS={mask(key.rstrip())}\n" and "MIIE" not in shown  # the block, to its END line


def test_argv() -> None:
    words = [
        "app", "--password=abc def", "--token", "tok-123456", "--password", "--verbose", "-u", "root",
        f"--key={GITHUB}", "https://user:pa55word@example.com/?x=1", "A_TOKEN=abcdef",
    ]  # fmt: skip
    assert REDACT.argv(words) == [
        "app", "--password=a…(7 chars)", "--token", "to…(10 chars)", "--password", "--verbose", "-u", "root",
        f"--key={mask(GITHUB)}", "https://user:pa…(8 chars)@example.com/?x=1", "A_TOKEN=a…(6 chars)",
    ]  # fmt: skip
    assert argv_spans(["--password"]) == [[]]  # nothing follows


def test_a_shell_line_keeps_what_is_not_secret() -> None:
    line = "PGPASSWORD=x1y2z3 psql -h db; mount -o username=u,password=p4ss //h/s"
    assert REDACT.argv(["sh", "-c", line])[2] == (
        "PGPASSWORD=x…(6 chars) psql -h db; mount -o username=u,password=p…(4 chars) //h/s"
    )


def test_free_text() -> None:
    texts = ["/home/counter/logfile", f"/tmp/{GITHUB}.txt", "GET /api?token=abcdef0123 HTTP/1.1", ""]
    assert REDACT.texts(texts) == [
        "/home/counter/logfile",
        f"/tmp/{mask(GITHUB)}.txt",
        "GET /api?token=ab…(10 chars) HTTP/1.1",
        "",
    ]
    assert secret_spans(["é " + STRIPE]) == [[(2, 2 + len(STRIPE))]]  # characters, not bytes


def test_a_credential_given_on_a_command_line_in_any_text() -> None:
    """Wherever a command line is quoted (a history entry, a log line, a cron file, a timeline
    message), the credential it gives a program is masked, and only that."""
    given = {  # each text, and the credential in it
        "mysql -u admin -pCfwFakePass-3e8d -h 127.0.0.1 -e 'select 1'": "CfwFakePass-3e8d",
        "stderr: curl -s -u deploy:cfw-fake-9c4b http://127.0.0.1:9/": "cfw-fake-9c4b",
        "*/5 * * * * root sshpass -p hunter22 ssh ops@db": "hunter22",
        "tool --password s3cr3t-value --verbose": "s3cr3t-value",
        "mysql -u admin -h db": None,  # no password given: nothing to mask
    }
    expected = [text if secret is None else text.replace(secret, mask(secret)) for text, secret in given.items()]
    assert REDACT.texts(list(given)) == expected
    assert "-pCfwF…(16 chars)" in expected[0]  # the mask itself, as docs/security.md shows it


def test_reveal_shows_everything_as_it_is() -> None:
    assert REVEAL.environment(["DB_PASSWORD=hunter2-blog"]) == ["DB_PASSWORD=hunter2-blog"]
    assert REVEAL.argv(["--token", "abc"]) == ["--token", "abc"]
    assert REVEAL.text(GITHUB) == GITHUB
    assert REVEAL.value(b"hunter2\xff") == "hunter2\\xff" and REDACT.value(b"hunter2\xff") == "hu…(8 chars)"


def test_the_masked_form() -> None:
    assert mask(GITHUB.encode()) == "ghp_…(41 chars)" and mask(GITHUB) == "ghp_…(41 chars)"
    assert mask(("gh" + "p_" + "a" * 36).encode()) == "ghp_…(40 chars)"  # as docs/secrets.md shows it
    assert mask(b"hunter2-blog") == "hun…(12 chars)"
    assert mask("abc") == "…(3 chars)"
    assert mask(b"\x00\x01\\xyzzy-plugh") == "\\x00\\x01\\x5c…(14 chars)"
    assert mask("ü-secret-value") == "\\xfc-s…(14 chars)"


def test_the_fixtures_environments() -> None:
    """Exactly the planted credentials are hidden in the real fixtures' environments and argv."""
    hidden = set()
    for truth in [*FIXTURES.glob("*.truth.json"), *SCENARIOS.glob("*.truth.json")]:
        for process in json.loads(truth.read_text()).get("processes", []):
            env, argv = process.get("env") or [], process.get("cmdline") or []
            pairs = [*zip(env, REDACT.environment(env), strict=True), *zip(argv, REDACT.argv(argv), strict=True)]
            for before, after in pairs:
                if before != after:
                    hidden.add(before.split("=", 1)[0])
    planted = {"AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "SECRET", "TOKEN", "CFW_SECRET"}
    servers = {"PGPASSWORD", "POSTGRES_PASSWORD", "REDISCLI_AUTH", "REDIS_PASSWORD"}  # the clients and servers
    assert hidden == planted | servers
