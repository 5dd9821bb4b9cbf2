"""What the container changed on disk; with two checkpoints, everything that changed between them.

One checkpoint: every file in rootfs-diff.tar (and /dev/shm, tmpfs mounts) with type,
size, mode, owner and mtime, and every deleted path (deleted.files, or the layer's OCI
whiteouts in containerd checkpoints; "opaque": a directory whose content from the image
is hidden). The container's changes come first; what the container runtime made (CRIU's
tmpfs copies of /dev and /sys/fs/cgroup, the empty files it bind-mounts onto) is counted,
and listed with --all. Two checkpoints of one container: processes, descriptors, sockets, files on
disk, deleted files and memory sizes added, removed and changed from the first to the
second.

\b
Examples:
  checkforensics diff checkpoint.tar
  checkforensics diff checkpoint.tar --all --format json
  checkforensics diff checkpoint.tar --show /home/counter/logfile
  checkforensics diff checkpoint.tar --extract changed/
  checkforensics diff before.tar after.tar --secrets
  checkforensics diff before.tar after.tar --show-unchanged
  checkforensics diff before.tar after.tar --format jsonl | jq -c 'select(.section == "sockets")'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from checkforensics.cli.declare import Output, command
from checkforensics.cli.options import TREE_ALIAS, complete_paths

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.output import Destination
    from checkforensics.records.declare import Answer


def _reads(checkpoint_b: str | None, show_path: str | None, output: Destination | None, with_runtime: bool,
           with_secrets: bool, show_unchanged: bool, **_: Any) -> tuple[str, ...]:  # fmt: skip
    """What the mode the options choose reads; options of the other mode refused first."""
    if checkpoint_b is None and with_secrets:
        raise click.UsageError("--secrets compares the secrets of two checkpoints: give CHECKPOINT_B too")
    if checkpoint_b is None and show_unchanged:
        raise click.UsageError("--show-unchanged compares two checkpoints: give CHECKPOINT_B too")
    if checkpoint_b is not None and (show_path is not None or output is not None):
        raise click.UsageError("--show and --extract read one checkpoint: give only CHECKPOINT")
    if checkpoint_b is not None and with_runtime:
        raise click.UsageError("--all lists one checkpoint's changes: give only CHECKPOINT")
    # two: command lines, descriptors, memory and changed files; one: the layers beside the images
    return ("everything",) if checkpoint_b is not None else ("container", "images")


@command(
    reads=_reads,
    options=[
        click.argument("checkpoint_b", metavar="[CHECKPOINT_B]", required=False, shell_complete=complete_paths),
        click.option("--show", "show_path", metavar="PATH",
                     help="Print one changed file's content (text, or a hexdump)."),
        click.option(
            "--all", "with_runtime", is_flag=True,
            help="With one checkpoint: also the entries the container runtime made (tmpfs /dev, /sys/fs/cgroup, "
            "mount points); with --extract, write them too.",
        ),
        click.option("--force", is_flag=True, help="Compare checkpoints of different containers."),
        click.option("--secrets", "with_secrets", is_flag=True, help="With two checkpoints: secret findings new in B."),
        click.option(
            "--show-unchanged", is_flag=True,
            help='With two checkpoints: also what is alike in both (marked =; JSON: "unchanged").',
        ),
    ],
    output=Output("Write the changed files under this directory.", required=False, flags=("--extract",), force=False),
    format_aliases=TREE_ALIAS,
    samples=[(), ("--extract", "OUT")],
    records=[
        "checkforensics.analysis.changes:CHANGE", "checkforensics.analysis.changes:CHANGE_WITH_ORIGIN",
        "checkforensics.analysis.rootfs:CHANGED_FILE", "checkforensics.analysis.rootfs_extraction:EXTRACTED",
        "checkforensics.analysis.rootfs_extraction:EXTRACTED_WITH_ORIGIN", "checkforensics.analysis.compare:DIFFERENCE",
    ],
)  # fmt: skip
def diff(model: CheckpointModel, checkpoint_b: str | None, show_path: str | None, output: Destination | None,
         with_runtime: bool, force: bool, with_secrets: bool, show_unchanged: bool) -> Answer:  # fmt: skip
    if checkpoint_b is not None:
        from checkforensics.analysis.compare import differences

        return differences(model, checkpoint_b, force=force, secrets=with_secrets, unchanged=show_unchanged)
    if show_path is not None:
        from checkforensics.analysis.changes import shown_file

        return shown_file(model, show_path)
    if output is not None:
        from checkforensics.analysis.rootfs_extraction import extraction

        return extraction(model, output, runtime=with_runtime)
    from checkforensics.analysis.changes import changes_answer

    return changes_answer(model, runtime=with_runtime)
