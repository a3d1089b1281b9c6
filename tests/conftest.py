"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from embedkit.cli import main


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the Dask tests last. A Dask client leaves threads in this process, and a child forked
    by a later test (the training workers) would inherit any lock one of them held at the fork."""
    items.sort(key=lambda item: item.path.name == "test_w2v_cluster.py")  # stable


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


def _default_sigint() -> None:
    # A shell without job control starts background jobs with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: the child would never see the test's SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in this process during the test, as in a terminal: a
    suite started as a background job without job control inherits SIGINT ignored, and a test
    that presses Ctrl-C with ``os.kill`` would see nothing. The inherited handler is restored."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


@pytest.fixture
def embedkit_child() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``embedkit_child(*args, **popen_kwargs)``: start ``python -m embedkit ARGS`` to be
    interrupted: SIGINT at its default in the child, in a process group of its own (so a
    Ctrl-C meant for pytest does not reach it). At teardown the whole group (the command and any
    workers it forked) is killed, so a failed or timed-out test leaves no orphan behind."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-m", "embedkit", *args], text=True,
                                   start_new_session=True, preexec_fn=_default_sigint,
                                   **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
