"""Rules over files and the disk: memfds and deleted files still open, changes to sensitive
paths, executables dropped in temporary directories, and sensitive files deleted."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from checkforensics.analysis.severity import Severity
from checkforensics.analysis.triage.context import Context
from checkforensics.analysis.triage.finding import Finding

WRITABLE_DIRS = ("/tmp/", "/dev/shm/", "/var/tmp/", "/run/user/", "/dev/mqueue/")
# (glob, what a path matching it is, severity, ATT&CK); the first that matches names the path
SENSITIVE_PATHS = (
    ("/etc/ld.so.preload", "the dynamic linker's preload list", Severity.HIGH, ("T1574.006",)),
    ("/etc/passwd", "the accounts", Severity.HIGH, ("T1136.001",)),
    ("/etc/shadow", "the passwords", Severity.HIGH, ("T1136.001",)),
    ("/etc/sudoers*", "sudo's rules", Severity.HIGH, ("T1548.003",)),
    ("/etc/cron*", "a cron job", Severity.HIGH, ("T1053.003",)),
    ("/var/spool/cron/*", "a cron job", Severity.HIGH, ("T1053.003",)),
    ("*/.ssh/authorized_keys*", "SSH authorized keys", Severity.HIGH, ("T1098.004",)),
    ("*/.ssh/*", "SSH configuration or keys", Severity.HIGH, ("T1098.004",)),
    ("*/.bashrc", "a shell start-up file", Severity.MEDIUM, ("T1546.004",)),
    ("*/.profile", "a shell start-up file", Severity.MEDIUM, ("T1546.004",)),
    ("/root/*", "root's home", Severity.MEDIUM, ()),
    ("/etc/*", "system configuration", Severity.MEDIUM, ()),
    ("/usr/bin/*", "a system binary", Severity.HIGH, ("T1554",)),
    ("/usr/sbin/*", "a system binary", Severity.HIGH, ("T1554",)),
    ("/bin/*", "a system binary", Severity.HIGH, ("T1554",)),
    ("/sbin/*", "a system binary", Severity.HIGH, ("T1554",)),
    ("/lib*/*.so*", "a system library", Severity.HIGH, ("T1554",)),
    ("/usr/lib*/*.so*", "a system library", Severity.HIGH, ("T1554",)),
)


def rule_fileless(context: Context) -> Iterator[Finding]:
    """Memfds and deleted files held open, one finding per file whoever holds it (its holders
    name each process and descriptor)."""
    for process, d in context.descriptors():
        if not isinstance(d.fd, int):
            continue  # cwd, root, exe: a process running from a memfd is exe-memfd's (fileless)
        if d.type == "MEMFD":
            yield Finding(
                "memfd-open",
                Severity.MEDIUM,
                "memfd (in-memory file) open",
                process.pid,
                process.comm,
                {"name": d.path, "size": d.size},
                fact=("memfd", d.details.get("inode_id", d.file_id)),
                fd=d.fd,
            )
        elif d.type == "REG" and d.deleted:
            dropped = (d.path or "").startswith(WRITABLE_DIRS)
            yield Finding(
                "deleted-file-open",
                Severity.HIGH if dropped else Severity.MEDIUM,
                "deleted file still open (content recoverable)" + (" in a writable dir" if dropped else ""),
                process.pid,
                process.comm,
                {"path": d.path, "remap": d.details.get("remap")},
                fact=("file", d.details.get("remap_id"), d.path),  # one ghost file, however often opened
                fd=d.fd,
            )


def rule_disk(context: Context) -> Iterator[Finding]:
    # the container's changes in every layer; what the runtime made (the empty files runc
    # bind-mounts onto, /dev's default devices) is set apart by rootfs_changes
    for _, changed in context.changes.files:
        if changed.type == "dir":
            continue
        for pattern, kind, severity, techniques in SENSITIVE_PATHS:
            if fnmatch.fnmatch(changed.path, pattern):
                yield Finding(
                    "sensitive-file-changed",
                    severity,
                    f"{kind} changed on disk: {changed.path}",
                    None,
                    None,
                    {"path": changed.path, "size": changed.size, "mtime": changed.mtime, "sha256": changed.sha256},
                    techniques,
                )
                break
        temporary = changed.path.startswith(("/tmp/", "/var/tmp/", "/dev/shm/"))
        if changed.type == "file" and changed.mode & 0o111 and temporary:
            yield Finding(
                "executable-dropped",
                Severity.HIGH,
                "executable file written to a temporary directory",
                None,
                None,
                {"path": changed.path, "size": changed.size, "sha256": changed.sha256},
            )
    for path in context.changes.deleted:
        if _sensitive_deletion(path):
            yield Finding(
                "sensitive-file-deleted",
                Severity.MEDIUM,
                "deleted from disk",
                None,
                None,
                {"path": path},
                _deletion_techniques(path),
            )
    for path in context.changes.opaque:
        if _sensitive_deletion(path + "/"):
            yield Finding(
                "sensitive-file-deleted",
                Severity.MEDIUM,
                "directory emptied on disk (opaque: the image's files under it are gone)",
                None,
                None,
                {"path": path, "opaque": True},
                _deletion_techniques(path + "/"),
            )


def _sensitive_deletion(path: str) -> bool:
    return path.startswith(("/var/log/", "/etc/", "/root/")) or "/.ssh/" in path


def _deletion_techniques(path: str) -> tuple[str, ...]:
    return ("T1070.002",) if path.startswith("/var/log/") else ("T1070.004",)
