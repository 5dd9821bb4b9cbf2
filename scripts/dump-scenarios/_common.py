"""Shared machinery of the dump scenarios: build the holder, start a process tree, wait until it
is ready, record what /proc says about it, and dump it with CRIU.

A scenario script forks a root process (a new session), which creates file descriptors in
Python, forks children and finally execs ``holder`` (holder.c, compiled here with gcc), which
keeps the descriptors and adds threads, timers, signals and memory markers; see holder.c for why.
Every holder reports "<pid> <comm>" on a pipe once it is set up. Then the scenario records the
live processes' /proc (truth.json) and runs ``criu dump -t ROOT -D OUT/images --shell-job ...``,
which kills the tree.

Work files (bound socket names, FIFOs, deleted files, ...) live under /tmp/cfw-scenarios/<name>,
so those are the paths the images name. Only loopback addresses are used.

This is a by-hand tool (it needs root, CRIU and gcc); tests never run it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import pwd
import secrets
import select
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = Path("/tmp/cfw-scenarios")
CRIU = os.environ.get("CRIU", "/opt/reference/bin/criu")
READY_FD = 200
ALNUM = string.ascii_letters + string.digits
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def random_word(length: int, alphabet: str = ALNUM) -> str:
    """``length`` characters of ``alphabet``, made for this run (planted values are never reused)."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def fake_tokens() -> dict[str, str]:
    """service -> a fake token of its format, made for this run: Stripe, GitHub, Slack, GitLab, npm."""
    return {
        "stripe": f"sk_live_{random_word(32)}",
        "github": f"ghp_{random_word(36)}",
        "slack": f"xoxb-{random_word(12, string.digits)}-{random_word(13, string.digits)}-{random_word(24)}",
        "gitlab": f"glpat-{random_word(20, ALNUM + '-_')}",
        "npm": f"npm_{random_word(36)}",
    }


def build_holder() -> str:
    """Compile holder.c into /tmp/cfw-scenarios/bin/holder (once per change of the source)."""
    src = HERE / "holder.c"
    out = BASE / "bin" / "holder"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["gcc", "-O2", "-Wall", "-pthread", "-o", str(out), str(src)], check=True)
    return str(out)


def inheritable(*fds: int) -> None:
    for fd in fds:
        os.set_inheritable(fd, True)


def sock(family: int, kind: int, proto: int = 0) -> socket.socket:
    s = socket.socket(family, kind, proto)
    s.set_inheritable(True)
    return s


class Tree:
    """One scenario's process tree: its work directory, ready pipe and environment."""

    def __init__(self, name: str, outdir: str | os.PathLike) -> None:
        self.name = name
        self.out = Path(outdir).resolve()
        self.work = BASE / name
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        if self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)
        self.holder = build_holder()
        self.ready_r, self.ready_w = os.pipe()
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "LANG": "C",
            "CFW_SCENARIO": name,
            "CFW_SECRET": f"env-secret-{name}-7f3a",
        }
        self.markers: list[str] = [self.env["CFW_SECRET"]]
        self.children: list[int] = []  # processes this launcher forked directly
        self.pids: dict[str, int] = {}  # comm -> pid, from the ready reports
        self._ready_buf = b""
        self.ready_lines: list[str] = []  # every ready report, whole ("<pid> <comm>[\tmore]")
        self.keep_fds: list[int] = []  # launcher fds the root may use (all others are closed)

    # --- in the tree -------------------------------------------------------------------------

    def holder_argv(self, comm: str, opts: list[str], argv0: str | None = None, extra=()) -> list[str]:
        return [argv0 or self.holder, "-r", str(READY_FD), "-n", comm, *opts, "--", *extra]

    def exec_holder(self, comm: str, opts: list[str], argv0: str | None = None, extra=(), env=None) -> None:
        """Replace the calling (forked) process with holder; never returns."""
        argv = self.holder_argv(comm, opts, argv0, extra)
        self._ready_fd()
        os.execve(self.holder, argv, env or self.env)

    def exec_argv(self, argv: list[str], env=None) -> None:
        """Exec another program (e.g. bash -c 'exec -a NAME holder ...'); never returns."""
        self._ready_fd()
        os.execve(argv[0], argv, env or self.env)

    def run_init(self, init, comm: str) -> None:
        """In a process that has just unshared its PID namespace: fork that namespace's init,
        which runs ``init(self)``, report its host PID as ``<pid> COMM-hostpid``, wait for it
        and exit (never returns)."""
        pid = os.fork()
        if pid == 0:
            try:
                init(self)
            except BaseException as exc:
                print(f"{comm} failed: {exc!r}", file=sys.stderr, flush=True)
            os._exit(1)
        os.write(self.ready_w, f"{pid} {comm}-hostpid\n".encode())
        os.close(self.ready_w)
        os.waitpid(pid, 0)
        os._exit(0)

    def _ready_fd(self) -> None:
        if self.ready_w != READY_FD:
            os.dup2(self.ready_w, READY_FD)
        os.set_inheritable(READY_FD, True)

    def fork(self, child) -> int:
        """Fork; the child runs child() (which must exec or exit). Returns the child's pid."""
        pid = os.fork()
        if pid == 0:
            try:
                child()
            except BaseException as exc:
                print(f"{self.name}: child failed: {exc!r}", file=sys.stderr, flush=True)
            os._exit(1)
        return pid

    # --- in the launcher ---------------------------------------------------------------------

    def start(self, root_setup, expected: int) -> int:
        """Fork the root (new session, stdio to /dev/null and stderr.log), run root_setup(self)
        in it (it must end by exec'ing), and wait for ``expected`` ready reports."""
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                null = os.open("/dev/null", os.O_RDWR)
                log = os.open(self.work / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(null, 0)
                os.dup2(null, 1)
                os.dup2(log, 2)
                os.close(null)
                os.close(log)
                os.close(self.ready_r)
                # Drop whatever the launcher inherited (e.g. from the shell running it).
                for fd in sorted(int(f) for f in os.listdir("/proc/self/fd")):
                    if fd > 2 and fd != self.ready_w and fd not in self.keep_fds:
                        with contextlib.suppress(OSError):
                            os.close(fd)
                os.chdir(self.work)
                root_setup(self)
            except BaseException as exc:
                print(f"{self.name}: root setup failed: {exc!r}", file=sys.stderr, flush=True)
                import traceback

                traceback.print_exc()
            os._exit(1)
        self.children.append(pid)
        os.close(self.ready_w)
        self.root = pid
        self._wait_ready(expected)
        return pid

    def _wait_ready(self, expected: int, timeout: float = 30.0) -> None:
        """Read ``expected`` more "<pid> <comm>" lines from the ready pipe."""
        deadline = time.monotonic() + timeout
        os.set_blocking(self.ready_r, False)
        got = 0
        while got < expected:
            if time.monotonic() > deadline:
                self.kill()
                raise SystemExit(
                    f"{self.name}: only {got} of {expected} ready; {self.work}/stderr.log:\n"
                    + _read(self.work / "stderr.log")
                )
            try:
                chunk = os.read(self.ready_r, 4096)
            except BlockingIOError:
                time.sleep(0.05)
                continue
            if not chunk:
                self.kill()
                raise SystemExit(
                    f"{self.name}: ready pipe closed after {got} of {expected}:\n" + _read(self.work / "stderr.log")
                )
            self._ready_buf += chunk
            while b"\n" in self._ready_buf:
                line, _, self._ready_buf = self._ready_buf.partition(b"\n")
                text = line.decode(errors="surrogateescape")
                self.ready_lines.append(text)
                pid, _, comm = text.partition("\t")[0].partition(" ")  # after a tab: the sender's own words
                self.pids[comm] = int(pid)
                got += 1
        time.sleep(0.3)  # let the last holder reach pause()

    def wait_more(self, expected: int) -> None:
        self._wait_ready(expected)

    def tree_pids(self, root: int | None = None) -> list[int]:
        return tree_pids(self.root if root is None else root)

    def wait_processes(self, root: int, count: int, timeout: float = 30.0) -> None:
        """Until the tree under ``root`` has ``count`` processes (a server forking its workers)."""
        deadline = time.monotonic() + timeout
        while len(self.tree_pids(root)) != count:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: the tree has {len(self.tree_pids(root))} processes, not {count}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL every process of this scenario (only the ones it started)."""
        for start in self.children:
            for pid in reversed(self.tree_pids(start)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.reap()

    def reap(self) -> None:
        for pid in self.children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def dump(self, root: int, flags: list[str], truth_extra: dict | None = None, run_as: str | None = None) -> Path:
        """Record truth.json from /proc, then criu dump the tree into OUT/images.

        With ``run_as`` (a user name), CRIU runs as that user with this process's capabilities
        and ``--unprivileged`` (see criu_as_user), writing images that user owns."""
        truth = collect_truth(self.name, root, self.markers)
        if truth_extra:
            truth.update(truth_extra)
        prefix: list[str] = []
        if run_as:
            prefix = criu_as_user(run_as)
            truth["criu_run_as"] = f"{run_as}, with the capabilities of root on this machine (setpriv)"
        (self.out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
        images = self.out / "images"
        images.mkdir()
        if run_as:
            pw = pwd.getpwnam(run_as)
            (self.out / "dump.log").touch()
            for path in (images, self.out / "dump.log"):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        cmd = [
            *prefix,
            CRIU,
            "dump",
            *(["--unprivileged"] if run_as else []),
            "-t",
            str(root),
            "-D",
            str(images),
            "--shell-job",
            "-v4",
            "-o",
            str(self.out / "dump.log"),
            *flags,
        ]
        (self.out / "criu-command.txt").write_text(" ".join(cmd) + "\n")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            log = _read(self.out / "dump.log")
            errors = "\n".join(line for line in log.splitlines() if "Error" in line)
            self.kill()
            raise SystemExit(f"{self.name}: criu dump failed ({proc.returncode}):\n{errors}")
        time.sleep(0.2)
        if "--leave-running" not in flags:
            self.kill()  # whatever is left (the dump killed the tree; ns scenarios' parents remain)
        print(f"{self.name}: dumped {len(truth['processes'])} processes into {images}")
        return images

    def finish(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    @contextlib.contextmanager
    def session(self) -> Iterator[Tree]:
        """The scenario's run: whatever happens inside, what is left of its tree is killed and
        its work files removed afterwards."""
        try:
            yield self
        finally:
            self.kill()
            self.finish()


def criu_as_user(user: str) -> list[str]:
    """The setpriv prefix that runs CRIU as ``user`` with every capability this process has.

    CRIU reads each task's rlimits with prlimit(2), which the kernel allows only to a caller
    whose uids and gids all equal the task's, or one holding CAP_SYS_RESOURCE. Where
    CAP_SYS_RESOURCE is not even in the bounding set (as in this project's build machines),
    root cannot dump a tree of another user ("Can't get rlimit 0: Operation not permitted"),
    but that user, given the other capabilities as ambient ones, can. CRIU then wants
    ``--unprivileged`` (it refuses a non-root uid without it)."""
    effective = next(
        int(line.split()[1], 16)
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("CapEff:")
    )
    names = subprocess.run(["setpriv", "--list-caps"], capture_output=True, text=True, check=True).stdout.split()
    caps = ",".join(f"+{name}" for bit, name in enumerate(names) if effective >> bit & 1)
    return [
        "setpriv",
        f"--reuid={user}",
        f"--regid={user}",
        "--clear-groups",
        f"--inh-caps={caps}",
        f"--ambient-caps={caps}",
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --- truth from /proc -----------------------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    """root and all its descendants (breadth first), from /proc/*/stat."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                parents[int(entry.name)] = _stat(int(entry.name))["ppid"]
    out, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        if pid in parents:
            out.append(pid)
            todo.extend(sorted(p for p, pp in parents.items() if pp == pid))
    return out


def _stat(pid: int, tid: int | None = None) -> dict:
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    text = Path(path).read_text(errors="backslashreplace")
    comm = text[text.index("(") + 1 : text.rindex(")")]
    rest = text[text.rindex(")") + 2 :].split()
    return {"comm": comm, "state": rest[0], "ppid": int(rest[1]), "pgid": int(rest[2]), "sid": int(rest[3])}


def _status(path: str) -> dict:
    keep = {
        "Uid",
        "Gid",
        "NSpid",
        "NSpgid",
        "NSsid",
        "SigQ",
        "SigPnd",
        "ShdPnd",
        "SigBlk",
        "SigIgn",
        "SigCgt",
        "Seccomp",
        "Seccomp_filters",
        "NoNewPrivs",
        "Threads",
        "Umask",
        "State",
    }
    out = {}
    for line in Path(path).read_text(errors="backslashreplace").splitlines():
        key, _, value = line.partition(":")
        if key in keep:
            out[key] = value.strip()
    return out


TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
}
UNIX_TYPES = {1: "STREAM", 2: "DGRAM", 5: "SEQPACKET"}
UNIX_STATES = {1: "UNCONNECTED", 2: "CONNECTING", 3: "CONNECTED", 4: "DISCONNECTING"}


def _addr(hexaddr: str) -> tuple[str, int]:
    host, port = hexaddr.split(":")
    raw = bytes.fromhex(host)
    # /proc/net prints each 32-bit word in host (little-endian) order.
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), int(port, 16)


def sockets_of(pid: int) -> dict[int, dict]:
    """Socket inode -> what /proc/PID/net/* and ss say about it, in PID's network namespace."""
    table: dict[int, dict] = {}
    net = Path(f"/proc/{pid}/net")
    for line in _lines(net / "unix"):
        f = line.split()
        if len(f) < 7:
            continue
        entry = {
            "family": "UNIX",
            "type": UNIX_TYPES.get(int(f[4], 16), f[4]),
            "state": UNIX_STATES.get(int(f[5], 16), f[5]),
            "listening": bool(int(f[3], 16) & 0x10000),
        }
        if len(f) > 7:
            entry["path"] = " ".join(f[7:])
        table[int(f[6])] = entry
    for proto, fam in (
        ("tcp", "INET"),
        ("tcp6", "INET6"),
        ("udp", "INET"),
        ("udp6", "INET6"),
        ("raw", "INET"),
        ("raw6", "INET6"),
    ):
        for line in _lines(net / proto):
            f = line.split()
            local, remote = _addr(f[1]), _addr(f[2])
            tx, rx = (int(x, 16) for x in f[4].split(":"))
            state = int(f[3], 16)
            entry = {
                "family": fam,
                "proto": proto.rstrip("6").upper(),
                "local": list(local),
                "remote": list(remote),
                "tx_queue": tx,
                "rx_queue": rx,
            }
            if proto.startswith("tcp"):
                entry["state"] = TCP_STATES.get(state, state)
            table[int(f[9])] = entry
    for line in _lines(net / "netlink"):
        f = line.split()
        table[int(f[9])] = {"family": "NETLINK", "protocol": int(f[1]), "portid": int(f[2]), "groups": f[3]}
    for line in _lines(net / "packet"):
        f = line.split()
        table[int(f[8])] = {"family": "PACKET", "type": int(f[2]), "proto": f[3], "ifindex": int(f[4])}
    # Peers of UNIX sockets: ss prints the socket's inode as its port and the peer's inode.
    try:
        ss = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", "ss", "-xanH"],
            capture_output=True,
            text=True,
            errors="backslashreplace",
            check=True,
        ).stdout
        for line in ss.splitlines():
            f = line.split()
            if len(f) >= 8 and f[5].isdigit() and f[7].isdigit() and int(f[5]) in table:
                table[int(f[5])]["peer_ino"] = int(f[7])
                table[int(f[5])]["ss_queues"] = {"recv_q": int(f[2]), "send_q": int(f[3])}
    except (OSError, subprocess.CalledProcessError):
        pass
    return table


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="backslashreplace").splitlines()[1:]
    except OSError:
        return []


def _fdinfo(pid: int, fd: str) -> dict:
    info: dict = {}
    extra = []
    for line in _lines_all(Path(f"/proc/{pid}/fdinfo/{fd}")):
        key, _, value = line.partition(":")
        if key in ("pos", "flags", "mnt_id", "ino") and key not in info:
            info[key] = value.strip()
        else:
            extra.append(line)
    if extra:
        info["more"] = extra
    return info


def _lines_all(path: Path) -> list[str]:
    try:
        return path.read_text(errors="backslashreplace").splitlines()
    except OSError:
        return []


def _nul_list(path: Path) -> list[str]:
    """A NUL-separated /proc file (cmdline, environ) as text; bytes not UTF-8 as \\xNN."""
    return [a.decode(errors="backslashreplace") for a in path.read_bytes().split(b"\0")[:-1]]


def _text(name: str) -> str:
    """A name from readlink (surrogate-escaped bytes) as text, bytes not UTF-8 as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def fd_type(target: str) -> str:
    if target.startswith("socket:"):
        return "socket"
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("anon_inode:"):
        return target.split(":", 1)[1].strip("[]")
    if target.startswith("/memfd:"):
        return "memfd"
    if target.startswith("/dev/pts/") or target == "/dev/ptmx" or target.startswith("/dev/tty"):
        return "tty"
    if target.startswith("/dev/"):
        return "chardev"
    return "file"


SYSV_SHM_FIELDS = ("key", "shmid", "perms", "size", "cpid", "lpid", "nattch", "uid", "gid", "rss")


def sysv_segments(pid: int) -> list[dict]:
    """The System V shared memory segments of PID's IPC namespace (/proc/sysvipc/shm read there)."""
    try:
        text = subprocess.run(
            ["nsenter", "-t", str(pid), "-i", "cat", "/proc/sysvipc/shm"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    lines = text.splitlines()
    header = lines[0].split()
    segments = []
    for line in lines[1:]:
        row = dict(zip(header, line.split(), strict=False))
        segment = {field: int(row[field]) for field in SYSV_SHM_FIELDS if field != "perms"}
        segment["perms"] = row["perms"]
        segments.append(segment)
    return segments


def collect_truth(name: str, root: int, markers: list[str]) -> dict:
    processes = []
    sockets_cache: dict[str, dict] = {}
    for pid in tree_pids(root):
        st = _stat(pid)
        proc = {
            "pid": pid,
            "ppid": st["ppid"],
            "pgid": st["pgid"],
            "sid": st["sid"],
            "comm": st["comm"],
            "state": st["state"],
        }
        proc["status"] = _status(f"/proc/{pid}/status")
        proc["cmdline"] = _nul_list(Path(f"/proc/{pid}/cmdline"))
        try:
            proc["env"] = _nul_list(Path(f"/proc/{pid}/environ"))
        except OSError:
            proc["env"] = []
        for link in ("exe", "cwd", "root"):
            try:
                proc[link] = _text(os.readlink(f"/proc/{pid}/{link}"))
            except OSError:
                proc[link] = None
        threads = []
        for tid in sorted(int(t) for t in os.listdir(f"/proc/{pid}/task")):
            tst = _status(f"/proc/{pid}/task/{tid}/status")
            threads.append(
                {"tid": tid, "comm": _stat(pid, tid)["comm"], "SigPnd": tst.get("SigPnd"), "SigBlk": tst.get("SigBlk")}
            )
        proc["threads"] = threads
        try:
            netns = os.readlink(f"/proc/{pid}/ns/net")
        except OSError:
            netns = None
        if netns and netns not in sockets_cache:
            sockets_cache[netns] = sockets_of(pid)
        socks = sockets_cache.get(netns, {})
        fds = []
        try:
            names = sorted(os.listdir(f"/proc/{pid}/fd"), key=int)
        except OSError:
            names = []
        for fd in names:
            try:
                target = _text(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
            entry = {"fd": int(fd), "type": fd_type(target), "target": target, "fdinfo": _fdinfo(pid, fd)}
            if entry["type"] == "socket":
                ino = int(target[len("socket:[") : -1])
                entry["socket"] = socks.get(ino, {"family": "unknown (not in /proc/net)"})
            fds.append(entry)
        proc["fds"] = fds
        proc["ns"] = {}
        for ns in sorted(os.listdir(f"/proc/{pid}/ns")) if os.path.exists(f"/proc/{pid}/ns") else []:
            with contextlib.suppress(OSError):
                proc["ns"][ns] = os.readlink(f"/proc/{pid}/ns/{ns}")
        proc["timers"] = _lines_all(Path(f"/proc/{pid}/timers"))
        maps = _lines_all(Path(f"/proc/{pid}/maps"))
        proc["maps_count"] = len(maps)
        special = ("memfd", "deleted", "SYSV", "/dev/zero", "cfw-")
        proc["maps_special"] = [m for m in maps if any(s in m for s in special)]
        processes.append(proc)
    truth = {
        "scenario": name,
        "source": "/proc of the live processes just before criu dump",
        "root": root,
        "markers": markers,
        "processes": processes,
    }
    # CRIU dumps System V IPC only with an IPC namespace of the tree's own; the host's segments
    # are none of the scenario's business.
    with contextlib.suppress(OSError):
        if os.readlink(f"/proc/{root}/ns/ipc") != os.readlink("/proc/self/ns/ipc"):
            truth["sysv_shm"] = sysv_segments(root)
    return truth


if __name__ == "__main__":
    # For shell scenarios: _common.py truth NAME ROOT_PID OUT.json [MARKER ...]
    if len(sys.argv) >= 5 and sys.argv[1] == "truth":
        result = collect_truth(sys.argv[2], int(sys.argv[3]), sys.argv[5:])
        Path(sys.argv[4]).write_text(json.dumps(result, indent=1) + "\n")
    else:
        sys.exit("usage: _common.py truth NAME ROOT_PID OUT.json [MARKER ...]")


def exec_on_pipes(fds: tuple[int, int], path: str, argv: list[str], env: dict[str, str]) -> None:
    """In a forked child: run ``path`` as ``argv`` reading ``fds[0]`` and writing both outputs
    to ``fds[1]`` (a client the scenario drives; never returns)."""
    stdin, stdout = fds
    os.dup2(stdin, 0)
    os.dup2(stdout, 1)
    os.dup2(stdout, 2)
    os.execve(path, argv, env)


class PipedClient:
    """A client program (psql, redis-cli) fed on one pipe, answering on another; it stays
    connected. ``exchange`` sends text and waits for a token it asked the client to echo."""

    def __init__(self, t: Tree, stdin: int, stdout: int, program: str, log) -> None:
        self.tree = t
        self.stdin = stdin
        self.stdout = stdout
        self.program = program
        self.log = log  # what to show when the client does not answer: the server's logs
        self.output = b""
        self.syncs = 0

    def next_token(self) -> str:
        self.syncs += 1
        return f"cfw-sync-{self.syncs}"

    def exchange(self, text: str, token: str, timeout: float = 30.0) -> str:
        """Send ``text`` (which makes the client print ``token`` last) and wait for the token;
        return what the client printed meanwhile."""
        start = len(self.output)
        os.write(self.stdin, text.encode())
        deadline = time.monotonic() + timeout
        while token.encode() not in self.output[start:]:
            left = deadline - time.monotonic()
            ready = select.select([self.stdout], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(self.stdout, 4096) if ready else b""
            if not chunk:
                said = self.output.decode(errors="replace")
                raise SystemExit(f"{self.tree.name}: {self.program} did not answer:\n{said}\n" + self.log(self.tree))
            self.output += chunk
        return self.output[start:].decode(errors="replace")

    def close(self) -> None:
        os.close(self.stdin)
        os.close(self.stdout)
