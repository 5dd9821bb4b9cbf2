"""The shell variables a bash session holds, found by the shape of bash's ``SHELL_VAR``.

bash (variables.h) keeps each variable as ``SHELL_VAR {char *name; char *value; char *exportstr;
sh_var_value_func_t *dynamic_value; sh_var_assign_func_t *assign_func; int attributes; int
context;}``: five pointers and two ints, 48 bytes on a 64-bit machine, so a 64-byte malloc block
in its heap. ``attributes`` bit 0x1 is ``att_exported``; arrays (0x4), functions (0x8) and
associative arrays (0x40) hold no string value. A block is taken for one when its name reads as
a shell name, its value as a string (or NULL), its ``exportstr`` NULL or a string, its function
pointers NULL or into executable memory, and its attributes and context small; freed blocks are
left out.

What a session *set after it started* is what its initial environment block (``/proc/PID/environ``
as the kernel had it, which the model reads) does not hold with the same value, less the
variables bash makes itself at start-up (``SHELL_OWN``, from bash's variables.c and its manual).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checkforensics.analysis.history.heap import Heap, request_size
from checkforensics.model.memory import MemoryUnavailableError
from checkforensics.model.view import ProcessMemory

SHELL_VAR = "PPPPPii"
ATT_EXPORTED = 0x1
ATT_NOT_STRING = 0x4 | 0x8 | 0x40  # array, function, associative array
VALUE_LIMIT = 65536
_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{0,254}\Z")
# Set by bash itself when it starts, or by its prompt and history machinery (bash(1), "Shell Variables").
# fmt: off
SHELL_OWN = frozenset((
    "BASH", "BASHOPTS", "BASHPID", "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0", "BASH_CMDS",
    "BASH_COMMAND", "BASH_COMPAT", "BASH_LINENO", "BASH_LOADABLES_PATH", "BASH_REMATCH", "BASH_SOURCE",
    "BASH_SUBSHELL", "BASH_VERSINFO", "BASH_VERSION", "COLUMNS", "COMP_WORDBREAKS", "DIRSTACK", "EPOCHREALTIME",
    "EPOCHSECONDS", "EUID", "FUNCNAME", "GROUPS", "HISTCMD", "HISTFILE", "HISTFILESIZE", "HISTSIZE", "HOSTNAME",
    "HOSTTYPE", "IFS", "LINENO", "LINES", "MACHTYPE", "MAILCHECK", "OLDPWD", "OPTERR", "OPTIND", "OSTYPE",
    "PIPESTATUS", "PPID", "PS1", "PS2", "PS4", "PWD", "RANDOM", "SECONDS", "SHELL", "SHELLOPTS", "SHLVL",
    "SRANDOM", "TERM", "UID", "_",
))
# fmt: on


@dataclass(frozen=True)
class Variable:
    """One SHELL_VAR read from a bash heap."""

    address: int
    name: str
    value: str | None
    attributes: int
    context: int

    @property
    def exported(self) -> bool:
        return bool(self.attributes & ATT_EXPORTED)


def shell_variables(memory: ProcessMemory, heap: Heap) -> list[Variable]:
    """Every SHELL_VAR in use in ``heap``, in address order (a name bash keeps in several scopes
    appears once per scope)."""
    executable = [(m.start, m.end) for m in memory.mappings if "x" in m.perms]
    found = []
    block = request_size(48)
    for user, size in heap.chunks():
        if size != block or heap.freed_next_ok(user):  # taken back by malloc
            continue
        variable = _read(memory, user, executable)
        if variable is not None:
            found.append(variable)
    return found


def _read(memory: ProcessMemory, address: int, executable: list[tuple[int, int]]) -> Variable | None:
    try:
        name_at, value_at, export_at, dynamic, assign, attributes, context = memory.read_struct(address, SHELL_VAR)
        if not 0 <= attributes < 0x1000000 or not 0 <= context < 4096 or attributes & ATT_NOT_STRING:
            return None
        if any(f and not any(s <= f < e for s, e in executable) for f in (dynamic, assign)):
            return None
        name = memory.read_cstring(name_at, 256) if name_at else b""
        if not _NAME.match(name):
            return None
        value = memory.read_cstring(value_at, VALUE_LIMIT) if value_at else None
        if export_at:
            exportstr = memory.read_cstring(export_at, VALUE_LIMIT + 257)
            if not exportstr.startswith(name + b"="):
                return None
    except MemoryUnavailableError:
        return None
    text = None if value is None else value.decode("utf-8", "backslashreplace")
    return Variable(address, name.decode(), text, attributes, context)


def set_after_start(variables: list[Variable], environment: list[str] | None) -> list[Variable]:
    """The variables the initial ``environment`` does not hold with the same value, less the
    ones bash makes itself, each name once (its global scope's, context 0, first)."""
    initial: dict[str, str] = {}
    for item in environment or []:
        key, _, value = item.partition("=")
        initial.setdefault(key, value)
    chosen: dict[str, Variable] = {}
    for variable in sorted(variables, key=lambda v: (v.context, v.address)):
        if variable.name in SHELL_OWN or variable.name in chosen:
            continue
        if variable.value is None or initial.get(variable.name) == variable.value:
            continue
        chosen[variable.name] = variable
    return sorted(chosen.values(), key=lambda v: v.address)
