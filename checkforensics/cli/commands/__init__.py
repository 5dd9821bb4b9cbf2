"""The commands: one module each, named as the command (docs/design.md, "A new command")."""
