"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from embedkit.cli import main


@pytest.fixture
def runner() -> CliRunner:
    """Click's runner for ``embedkit`` commands (stdout and stderr kept apart)."""
    return CliRunner()


@pytest.fixture
def cli(runner: CliRunner) -> Callable[..., Result]:
    """``cli(*args, stdin=None)``: run ``embedkit`` with the arguments as strings."""
    def invoke(*args: object, stdin: str | bytes | None = None) -> Result:
        return runner.invoke(main, [str(a) for a in args], input=stdin)
    return invoke
