"""The ``embedkit`` Click group and the one place where errors become one-line messages."""

from __future__ import annotations

import importlib
import os
import re
import sys
import warnings

import click

from embedkit import __version__
from embedkit.errors import EmbedkitError, ParameterError

#: Exit status after Ctrl-C, as shells report a process ended by SIGINT.
EXIT_INTERRUPTED = 130
#: Exit status of a usage error (an option's value), as Click exits for the values it checks.
EXIT_USAGE = 2


class Group(click.Group):
    """A group that turns every failure below it into one line on stderr and an exit status.

    User errors (:class:`EmbedkitError`, raised by embedkit's own checks, and ``OSError``)
    exit with 1, an option's invalid value (:class:`ParameterError`) with 2 as Click's usage
    errors do, Ctrl-C with 130 (saying where it stopped when the command raised
    :class:`~embedkit.errors.Interrupted`); any other exception, a ``ValueError`` of numpy,
    SciPy or scikit-learn included, is an internal error, reported in one line, with the
    traceback only when ``EMBEDKIT_DEBUG`` is set. Python warnings (numpy's ``RuntimeWarning``
    and the like) never reach stderr as Python prints them: the commands turn the ones they
    expect into their own messages, and any other becomes one ``embedkit: warning:`` line.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        #: Command name -> "module:attribute", imported only when that command runs (or help
        #: lists it), so `embedkit neighbors` does not pay for scikit-learn's import.
        self.lazy_commands: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy_commands:
            module, attribute = self.lazy_commands[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings(record=True) as caught:
            try:
                return self._invoke(ctx)
            finally:
                _report_warnings(caught)

    def _invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt as exc:
            # An Interrupted carries where the command stopped; a bare Ctrl-C says nothing more.
            where = " ".join(str(exc).split())
            click.echo(f"embedkit: interrupted: {where}" if where else "embedkit: interrupted",
                       err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do.
            _silence_stdout()
            ctx.exit(0)
        except EmbedkitError as exc:
            _fail(ctx, exc, message=_option_names(self, ctx, exc),
                  status=EXIT_USAGE if isinstance(exc, ParameterError) else 1)
        except OSError as exc:
            from embedkit.io import WRITE_ERRNOS, cannot_write  # numpy: only when failing

            if exc.filename is None and exc.errno in WRITE_ERRNOS:
                # Every file is written through embedkit.io, which names it: this was stdout.
                _silence_stdout()
                _fail(ctx, cannot_write("<stdout>", exc))
            _fail(ctx, exc)
        except MemoryError as exc:
            _fail(ctx, exc)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("EMBEDKIT_DEBUG"):
                raise
            _fail(ctx, exc, prefix="internal error (set EMBEDKIT_DEBUG=1 for a traceback): ")


def _report_warnings(caught: list[warnings.WarningMessage]) -> None:
    """One line per distinct warning, without the source lines Python would print."""
    for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
        click.echo(f"embedkit: warning: {message}", err=True)


def _fail(ctx: click.Context, exc: BaseException, prefix: str = "",
          message: str | None = None, status: int = 1) -> None:
    message = " ".join((str(exc) if message is None else message).split())
    click.echo(f"embedkit: error: {prefix}{message or type(exc).__name__}", err=True)
    ctx.exit(status)


def _option_names(group: click.Group, ctx: click.Context, exc: EmbedkitError) -> str:
    """The message of ``exc`` with each library parameter it names (``batch_size``) replaced
    by the running command's option of that name (``--batch-size``); names the command has no
    option for stay as they are, and so does a name inside a file name (``f64.vocab``,
    ``vocab.txt``, ``runs/vocab``)."""
    command = group.get_command(ctx, ctx.invoked_subcommand or "")
    options = {param.name: max(param.opts, key=len) for param in
               (command.params if command is not None else ()) if isinstance(param, click.Option)}
    message = str(exc)
    for name in exc.params:
        if name in options:
            message = re.sub(rf"(?<![\w./-]){re.escape(name)}(?![\w-]|\.\w)", options[name],
                             message)
    return message


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"],
                                          "show_default": True, "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="embedkit")
def main() -> None:
    """Learn vector representations from the shell: word embeddings from raw text and
    autoencoders on feature matrices, on a small NumPy reverse-mode backprop core.

    Every command reads `-` as stdin and writes to stdout when no output file is given.
    """
