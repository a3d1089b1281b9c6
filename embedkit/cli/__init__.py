"""The command-line interface: one module per command family, each a thin shell over the library."""

from embedkit.cli.app import main
from embedkit.cli.gradcheck import gradcheck

for command in (
    gradcheck,
):
    main.add_command(command)

__all__ = ["main"]
