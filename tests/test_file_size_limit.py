"""Writes that fail half-way as on a full disk: a child process whose file size limit
(RLIMIT_FSIZE) stops every write past 20,000 bytes with EFBIG, as ENOSPC would. Each command
says which file it could not write, in one line, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from embedkit.vectors import save_vectors

resource = pytest.importorskip("resource", reason="RLIMIT_FSIZE needs the resource module")

LIMIT = 20_000


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal's kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.fixture
def run(tmp_path):
    def embedkit(*args: str) -> tuple[int, list[str]]:
        done = subprocess.run([sys.executable, "-m", "embedkit", *args], cwd=tmp_path,
                              preexec_fn=_limited, capture_output=True, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path)})
        return done.returncode, done.stderr.splitlines()
    rng = np.random.default_rng(0)
    save_vectors(tmp_path / "v.vec", [f"w{i}" for i in range(500)],
                 rng.normal(size=(500, 20)).astype(np.float32))
    np.save(tmp_path / "x.npy", rng.normal(size=(3000, 8)).astype(np.float32))
    words = " ".join(f"w{i % 50}" for i in range(4000))
    (tmp_path / "c.txt").write_text("\n".join([words] * 4) + "\n")
    return embedkit


def _left(tmp_path) -> set[str]:
    return {name for name in os.listdir(tmp_path)} - {"v.vec", "x.npy", "c.txt", "m.npz"}


@pytest.mark.parametrize("args, named", [
    (["convert", "v.vec", "out.npy"], "out.npy"),  # numpy.save's tofile said only byte counts
    (["convert", "v.vec", "out.vec"], "out.vec"),
    (["export-projector", "v.vec", "-o", "proj"], "proj/tensors.tsv"),  # not a stand-in's name
])
def test_a_write_past_the_limit_names_the_file_and_leaves_nothing(run, tmp_path, args, named):
    status, stderr = run(*args)
    assert status == 1
    assert stderr == [f"embedkit: error: {named}: cannot write (File too large)"]
    assert _left(tmp_path) == set()  # no stand-in, no partial file, no empty directory


def test_codes_past_the_limit_name_the_codes_file(run, tmp_path):
    status, stderr = run("autoencode", "x.npy", "--hidden", "3", "--epochs", "1", "-o", "m.npz",
                         "--codes", "codes.npy")
    assert status == 1
    assert stderr[-1] == "embedkit: error: codes.npy: cannot write (File too large)"
    assert _left(tmp_path) == set()


def test_an_index_past_the_limit_names_the_index(run, tmp_path):
    pytest.importorskip("usearch", reason="embedkit index needs the 'ann' extra (usearch)")
    status, stderr = run("index", "v.vec", "-o", "v.index")
    assert status == 1 and len(stderr) == 1
    assert stderr[0].startswith("embedkit: error: v.index: cannot write the index (")
    assert _left(tmp_path) == set()


def test_an_id_cache_past_the_limit_is_named_with_where_it_goes(run, tmp_path):
    status, stderr = run("train-w2v", "c.txt", "--min-count", "1", "--epochs", "1", "--dim", "4",
                         "-o", "out.vec")
    assert status == 1 and len(stderr) == 1
    assert stderr[0].startswith(f"embedkit: error: {tmp_path}")
    assert "ids.int32: cannot write the corpus's id cache (File too large)" in stderr[0]
    assert "TMPDIR" in stderr[0]
    assert _left(tmp_path) == set()


def test_a_token_cache_past_the_limit_is_named_with_where_it_goes(run, tmp_path):
    status, stderr = run("phrases", "c.txt", "--min-count", "1", "-o", "out.txt")
    assert status == 1 and len(stderr) == 1
    assert stderr[0].startswith(f"embedkit: error: {tmp_path}")
    assert "codes.int32: cannot write the corpus's token cache (File too large)" in stderr[0]
    assert "TMPDIR" in stderr[0]
    assert _left(tmp_path) == set()
