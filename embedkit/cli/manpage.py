"""Man pages generated from the Click definitions, so ``man/`` can never drift from the CLI.

Regenerate after changing a command or option::

    python -m embedkit.cli.manpage man/

A test renders every page again and fails when a committed page differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from embedkit import __version__


def _escape(text: str) -> str:
    """Quote text for roff: backslashes, hyphens, and a leading dot or apostrophe."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line[:1] in (".", "'") else line
                     for line in text.splitlines())


def _paragraphs(text: str) -> str:
    """Click help text (blank-line separated, ``\\b`` for verbatim blocks) as roff paragraphs."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if lines and lines[0].strip() == "\b":
            out.append(".nf\n" + _escape("\n".join(lines[1:])) + "\n.fi")
        else:
            out.append(_escape(" ".join(line.strip() for line in lines)))
    return "\n.PP\n".join(out)


def _option_record(param: click.Parameter, ctx: click.Context) -> tuple[str, str] | None:
    """Flags and help of one option, built from Click's stable attributes rather than its
    help formatter (whose layout changes between Click releases)."""
    if not isinstance(param, click.Option) or param.hidden:
        return None
    flags = ", ".join(sorted(param.opts, key=len))
    if param.secondary_opts:
        flags += " / " + ", ".join(param.secondary_opts)
    if not param.is_flag and not param.count:
        choices = getattr(param.type, "choices", None)
        flags += " " + (param.metavar or ("[" + "|".join(map(str, choices)) + "]" if choices
                                          else param.type.name.upper()))
    help_text = param.help or ""
    default = param.default
    # Click 8.2+ marks an option without a default by a sentinel, older releases by None
    unset = default is None or default is getattr(click.core, "UNSET", None)
    if not param.is_flag and not unset and default not in ("", ()) and not callable(default):
        help_text += f" [default: {default}]"
    elif param.is_flag and param.secondary_opts:
        help_text += f" [default: {param.opts[0] if default else param.secondary_opts[0]}]"
    return flags, help_text


def render(command: click.Command, path: list[str],
           parent: click.Context | None = None) -> str:
    """The roff source of the man page for ``command``, invoked as ``path`` (e.g. ``["embedkit",
    "windows"]``); ``parent`` is the group's context, whose settings subcommands inherit."""
    name = "-".join(path)
    ctx = click.Context(command, info_name=path[-1], parent=parent, **command.context_settings)
    summary = command.get_short_help_str(limit=200)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [
        f'.TH "{name.upper()}" "1" "" "embedkit {__version__}" "embedkit manual"',
        ".SH NAME", f"{_escape(name)} \\- {_escape(summary)}",
        ".SH SYNOPSIS", f".B {_escape(' '.join(path))}", _escape(usage),
        ".SH DESCRIPTION", _paragraphs(command.help or ""),
    ]
    records = [r for r in (_option_record(p, ctx) for p in command.get_params(ctx)) if r]
    if records:
        lines.append(".SH OPTIONS")
        for flags, help_text in records:
            lines += [".TP", f"\\fB{_escape(flags)}\\fR", _escape(help_text) or "\\&"]
    if isinstance(command, click.Group):
        lines.append(".SH COMMANDS")
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None:
                lines += [".TP", f"\\fB{_escape(sub_name)}\\fR",
                          _escape(sub.get_short_help_str(limit=200))]
        lines += [".SH SEE ALSO",
                  ", ".join(f"\\fB{_escape(name)}\\-{_escape(s)}\\fR(1)"
                            for s in command.list_commands(ctx))]
    else:
        lines += [".SH SEE ALSO", f"\\fB{_escape(path[0])}\\fR(1)"]
    return "\n".join(lines) + "\n"


def pages(group: click.Group, prog: str = "embedkit") -> dict[str, str]:
    """Every man page of ``group`` and its subcommands, by file name (``embedkit-windows.1``)."""
    ctx = click.Context(group, info_name=prog, **group.context_settings)
    result = {f"{prog}.1": render(group, [prog])}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None:
            result[f"{prog}-{name}.1"] = render(command, [prog, name], ctx)
    return result


def write_pages(directory: Path) -> list[Path]:
    """Write every page into ``directory``, removing pages of commands that no longer exist."""
    from embedkit.cli import main

    directory.mkdir(parents=True, exist_ok=True)
    wanted = pages(main)
    for stale in directory.glob("*.1"):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for name, text in wanted.items():
        target = directory / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    for page in write_pages(Path(sys.argv[1] if len(sys.argv) > 1 else "man")):
        print(page)
