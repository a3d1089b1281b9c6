"""The committed man pages are exactly what the current CLI generates, and they render."""

import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from embedkit.cli import main
from embedkit.cli.manpage import pages

MAN = Path(__file__).resolve().parents[1] / "man"


def test_every_command_has_an_up_to_date_page():
    expected = pages(main)
    committed = {p.name for p in MAN.glob("*.1")}
    assert committed == set(expected), "run: python -m embedkit.cli.manpage man/"
    for name, text in expected.items():
        assert (MAN / name).read_text(encoding="utf-8") == text, \
            f"man/{name} is out of date; run: python -m embedkit.cli.manpage man/"


def test_pages_name_every_option():
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        page = pages(main)[f"embedkit-{name}.1"]
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt.replace("-", "\\-") in page, (name, opt)


@pytest.mark.skipif(shutil.which("groff") is None and shutil.which("nroff") is None,
                    reason="neither groff nor nroff is installed to render man pages")
def test_main_page_renders():
    tool = shutil.which("groff") or shutil.which("nroff")
    args = [tool, "-man", "-Tutf8"] if tool.endswith("groff") else [tool, "-man"]
    out = subprocess.run(args + [str(MAN / "embedkit.1")], capture_output=True, text=True,
                         check=True)
    text = re.sub(".\b", "", out.stdout)  # undo the overstrike used for bold
    assert "gradcheck" in text and "autoencode" in text and "neighbors" in text
    assert "warning" not in out.stderr.lower()
