"""Print the completion script for a shell.

\b
Examples:
  checkforensics completion bash > ~/.local/share/bash-completion/completions/checkforensics
  checkforensics completion zsh > "${fpath[1]}/_checkforensics"
  checkforensics completion fish > ~/.config/fish/completions/checkforensics.fish
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from checkforensics.cli.declare import declared


@click.command(name="completion", help=__doc__)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    root = ctx.find_root().command
    completer_class = get_completion_class(shell)
    if completer_class is None:  # click knows all three; kept for other click versions
        raise click.BadParameter(f"no completion for {shell}")
    completer = completer_class(root, {}, "checkforensics", "_CHECKFORENSICS_COMPLETE")
    click.echo(completer.source())


declared(completion, reads=(), takes="other", samples=[])
