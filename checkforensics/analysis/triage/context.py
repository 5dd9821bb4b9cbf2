"""What the rules look at, loaded once from the model: processes with their argv and
environment, descriptors, the changes on disk, malfind's suspects, the credential rules' hits
in memory and the readline histories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from checkforensics.analysis.history import ProcessHistory, histories
from checkforensics.analysis.malfind import Suspect, malfind
from checkforensics.analysis.redaction import REDACT, Redaction
from checkforensics.analysis.rootfs import RootfsChanges, rootfs_changes
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.files import Descriptor, FileTable

if TYPE_CHECKING:
    from checkforensics.analysis.secretscan import SecretHit


@dataclass
class Context:
    """Everything the rules look at, loaded once."""

    tree: ProcessTree
    files: FileTable
    changes: RootfsChanges
    secret_hits: list[SecretHit] = field(default_factory=list)  # the credential rules' hits, when scanned
    redaction: Redaction = REDACT  # how evidence shows secret values
    malfind: list[Suspect] = field(default_factory=list)  # malfind's suspect mappings
    history: dict[int, ProcessHistory] = field(default_factory=dict)  # readline histories, by pid
    _exes: dict[int, Descriptor] | None = field(default=None, init=False, repr=False)
    _made: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def descriptors(self) -> Iterator[tuple[Process, Descriptor]]:
        for entry in self.files.processes:
            process = self.tree.by_pid(entry.pid)
            if process is None:
                continue
            for descriptor in entry.descriptors:
                yield process, descriptor

    def exe(self, pid: int) -> Descriptor | None:
        """The ``exe`` descriptor of ``pid`` (indexed once: rules ask for every process)."""
        if self._exes is None:
            self._exes = {}
            for process, descriptor in self.descriptors():
                if descriptor.fd == "exe":
                    self._exes.setdefault(process.pid, descriptor)
        return self._exes.get(pid)

    def program(self, process: Process) -> str:
        """The name of the program a process runs: its executable's file name, else its comm."""
        exe = self.exe(process.pid)
        path = exe.path if exe is not None else None
        return (path or "").rsplit("/", 1)[-1] or (process.comm or "")

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """What ``make`` gives, made once for this context: what several rules look at (the
        reverse shells both network rules ask about) is found once, by whoever asks first."""
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]


def load_context(model: CheckpointModel, *, scan_secrets: bool = True) -> Context:
    """Processes (with argv and environment), descriptors, rootfs changes and, unless told
    otherwise, the credential rules' findings in memory and in the files the checkpoint holds."""
    from checkforensics.analysis.secretscan import scan_checkpoint, scan_files

    tree = model.command_lines(env=True)
    hits = scan_checkpoint(model) + scan_files(model) if scan_secrets else []
    suspects = malfind(model).suspects  # its warnings are the model's memory diagnostics, told by the caller
    files = model.files()
    model.executables()  # each process's program, for its record (the report's)
    return Context(tree, files, rootfs_changes(model), hits, malfind=suspects, history=histories(model))
