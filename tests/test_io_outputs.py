"""Outputs that are not regular files: FIFOs, symbolic links, descriptors, devices (case 11).

Every output option goes through :func:`embedkit.io.atomic_output`: a regular file (or a new
name) is written beside itself and renamed over; a symbolic link stays a link and the file
it leads to is replaced; a FIFO or a descriptor is written in place. Nothing here touches the
real ``/dev``: the device directory is pointed at a scratch folder where needed.
"""

import bz2
import gzip
import io
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit import io as eio
from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.formats.arrays import read_vocab
from embedkit.vectors import save_vectors

DATA = Path(__file__).parent / "data"
CASE11 = DATA / "case11_corpus.txt"
CASE11_VOCAB = "the\t2\ncat\t1\ndog\t1\nran\t1\nsat\t1\n"


class FifoReader(threading.Thread):
    """Reads a FIFO, again and again, until stopped: what each writer sent, in order."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.chunks, self.stopping = path, [], False
        self.start()

    def run(self) -> None:
        while True:
            with open(self.path, "rb") as stream:  # waits for a writer
                data = stream.read()
            if data:
                self.chunks.append(data)
            if self.stopping:
                return

    def stop(self) -> list[bytes]:
        self.stopping = True
        deadline = time.monotonic() + 10
        while self.is_alive() and time.monotonic() < deadline:
            try:  # release a reader waiting in open(); fails while none waits
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
            self.join(0.05)
        assert not self.is_alive()
        return self.chunks


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_fifo_with_a_reader_is_written_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    with eio.atomic_output(fifo) as out:
        out.write("through the pipe\n")
    assert reader.stop() == [b"through the pipe\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


def test_symlink_to_a_file_stays_a_link_and_its_target_is_replaced(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.txt"
    target.write_text("old\n")
    old_inode = target.stat().st_ino
    link = tmp_path / "link.txt"
    link.symlink_to(Path("real") / "out.txt")  # relative, as `ln -s` often makes them
    with eio.atomic_output(link) as out:
        out.write("new\n")
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "out.txt")
    assert target.read_text() == "new\n"
    assert target.stat().st_ino != old_inode  # replaced by a rename, not rewritten in place
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "real") == []


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "new.txt")
    with eio.atomic_output(link) as out:
        out.write("x\n")
    assert link.is_symlink() and (tmp_path / "new.txt").read_text() == "x\n"


def test_interrupted_write_leaves_a_linked_file_untouched(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(KeyboardInterrupt), eio.atomic_output(link) as out:
        out.write("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old\n" and link.is_symlink()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("template", ["/dev/fd/{}", "/proc/self/fd/{}", "/proc/{pid}/fd/{}"])
def test_pipe_through_a_descriptor_name(template):
    read_end, write_end = os.pipe()
    try:
        name = template.format(write_end, pid=os.getpid())
        eio.check_writable(name)
        with eio.atomic_output(name, binary=True) as out:
            out.write(b"abc")
        os.close(write_end)
        write_end = -1
        assert os.read(read_end, 100) == b"abc"
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def test_descriptor_of_an_appended_file_is_appended_to_not_replaced(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("first\n")
    with open(log, "a") as stream:
        link = tmp_path / "fd"
        link.symlink_to(f"/proc/self/fd/{stream.fileno()}")
        with eio.atomic_output(link) as out:
            out.write("second\n")
    assert log.read_text() == "first\nsecond\n"
    assert link.is_symlink()


def test_read_only_descriptor_fails_before_work_starts(tmp_path):
    (tmp_path / "f").write_text("x")
    with open(tmp_path / "f") as stream:
        with pytest.raises(EmbedkitError, match=f"descriptor {stream.fileno()} is not open "
                                                "for writing"):
            eio.check_writable(f"/dev/fd/{stream.fileno()}")


def test_nothing_is_created_or_replaced_in_the_device_directory(tmp_path, monkeypatch):
    devices = tmp_path / "dev"
    devices.mkdir()
    monkeypatch.setattr(eio, "DEVICE_DIR", str(devices))
    regular = devices / "null"  # what a replaced device looks like
    regular.write_text("")
    for name in [devices / "new", regular, tmp_path / "via-link"]:
        if name.name == "via-link":
            name.symlink_to(devices / "other")
        with pytest.raises(EmbedkitError, match="will not create or replace a file in"):
            eio.check_writable(name)
        with pytest.raises(EmbedkitError, match="will not create or replace"):
            with eio.atomic_output(name) as out:
                out.write("x")
    assert sorted(p.name for p in devices.iterdir()) == ["null"]
    assert regular.read_text() == ""
    # A device (here a FIFO standing for one) is written in place.
    os.mkfifo(devices / "fifo")
    reader = FifoReader(devices / "fifo")
    with eio.atomic_output(devices / "fifo") as out:
        out.write("ok")
    assert reader.stop() == [b"ok"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_directory_refusing_files_as_if_missing_is_not_called_missing():
    # creating a file in /proc fails with ENOENT: "directory /proc does not exist", it said
    with pytest.raises(EmbedkitError) as error:
        eio.check_writable("/proc/x.npz")
    assert str(error.value) == "/proc/x.npz: cannot write in /proc (No such file or directory)"


def test_one_file_named_for_two_outputs_is_refused(tmp_path):
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    for first, second in (("a.txt", "a.txt"), ("link.txt", "a.txt"), ("a.txt", "./a.txt")):
        first, second = f"{tmp_path}/{first}", f"{tmp_path}/{second}"
        with pytest.raises(EmbedkitError) as error:
            eio.check_writable(None, first, "-", second)
        also = "" if first == second else f" (through {first})"
        assert str(error.value) == (f"{second}: given for two outputs{also}, the last written "
                                    "would replace the other: give each its own file")
    eio.check_writable("/dev/null", "/dev/null", "-", "-", None, None)  # written in place


def test_train_w2v_refuses_its_log_over_its_vectors_before_training(tmp_path):
    # the JSON log replaced the vectors, exit 0
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 20)
    (tmp_path / "v.txt").write_text("kept\n")
    result = CliRunner().invoke(main, ["train-w2v", str(corpus), "--min-count", "1", "-o",
                                       str(tmp_path / "v.txt"), "--log-json",
                                       str(tmp_path / "v.txt")])
    assert result.exit_code == 1
    assert result.stderr == (f"embedkit: error: {tmp_path / 'v.txt'}: given for two outputs, "
                             "the last written would replace the other: give each its own "
                             "file\n")
    assert (tmp_path / "v.txt").read_text() == "kept\n"


def test_directory_is_refused(tmp_path):
    with pytest.raises(EmbedkitError, match="is a directory"):
        eio.check_writable(tmp_path)


def test_atomic_outputs_follow_links_and_pass_fifos_through(tmp_path):
    target = tmp_path / "a.txt"
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    fifo = tmp_path / "b"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    with eio.atomic_outputs(link, fifo, None) as (first, second, third):
        assert second == str(fifo) and third is None
        assert first.endswith(".link.txt") and os.path.dirname(first) == str(tmp_path)
        with eio.atomic_output(first) as out:
            out.write("1")
        with eio.atomic_output(second) as out:
            out.write("2")
    assert target.read_text() == "1" and link.is_symlink()
    assert reader.stop() == [b"2"]


def run_cli(tmp_path, args):
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A corpus, a matrix and a model for every command that writes something."""
    folder = tmp_path_factory.mktemp("inputs")
    corpus = folder / "corpus.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    rng = np.random.default_rng(0)
    matrix = folder / "x.npy"
    np.save(matrix, rng.normal(size=(40, 5)))
    model = folder / "m.npz"
    run_cli(folder, ["autoencode", str(matrix), "--hidden", "2", "--epochs", "2", "-o",
                     str(model)])
    codes = folder / "c.npy"
    run_cli(folder, ["encode", str(model), str(matrix), "-o", str(codes)])
    vectors = folder / "v.vec"
    save_vectors(vectors, [f"w{i}" for i in range(6)],
                 rng.normal(size=(6, 3)).astype(np.float32))
    log = folder / "log.jsonl"
    run_cli(folder, ["autoencode", str(matrix), "--hidden", "2", "--epochs", "2", "-o",
                     str(folder / "m2.npz"), "--log-json", str(log)])
    return {"corpus": str(corpus), "matrix": str(matrix), "model": str(model),
            "codes": str(codes), "log": str(log), "vectors": str(vectors)}


W2V = ["train-w2v", "{corpus}", "--min-count", "1", "--dim", "4", "--epochs", "2",
       "--threads", "1"]
AE = ["autoencode", "{matrix}", "--hidden", "2", "--epochs", "2"]

#: (command line, output option, the output's file name): every option that writes a file.
OUTPUTS = [
    (["vocab", "{corpus}", "--min-count", "1"], "-o", "vocab.tsv"),
    (["windows", "{corpus}", "--min-count", "1"], "-o", "pairs.tsv"),
    (["synth-corpus", "--sentences", "5"], "-o", "corpus.txt"),
    (W2V, "-o", "v.vec"),
    (W2V, "--save-vocab", "vocab.tsv"),
    (W2V, "--log-json", "log.jsonl"),
    (W2V, "--checkpoint", "ck.npz"),
    (AE, "-o", "m.npz"),
    (AE, "--codes", "codes.csv"),
    (AE, "--log-json", "log.jsonl"),
    (AE, "--checkpoint", "ck.npz"),
    (["encode", "{model}", "{matrix}"], "-o", "codes.csv"),
    (["decode", "{model}", "{codes}"], "-o", "rows.npy"),
    (["compare-pca", "{model}", "{matrix}"], "--plot", "plot.svg"),
    (["plot", "{log}"], "-o", "curves.svg"),
    (["phrases", "{corpus}", "--min-count", "1"], "-o", "joined.txt"),
    (["phrases", "{corpus}", "--min-count", "1", "--threshold", "0"], "--save-phrases",
     "phrases.tsv"),
    (["map", "{vectors}", "--top", "4"], "-o", "map.svg"),
    (["map", "{vectors}", "--top", "4"], "-o", "map.html"),
]


def command(args, inputs, option, path):
    return [a.format(**inputs) for a in args] + [option, str(path)]


@pytest.mark.parametrize(("args", "option", "name"), OUTPUTS,
                         ids=[f"{a[0]} {o}" for a, o, _ in OUTPUTS])
def test_every_output_option_writes_through_a_fifo(tmp_path, inputs, args, option, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    try:
        run_cli(tmp_path, command(args, inputs, option, fifo))
    finally:
        chunks = reader.stop()
    assert chunks and all(chunks), "the reader got nothing"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("args", "option", "name"), OUTPUTS,
                         ids=[f"{a[0]} {o}" for a, o, _ in OUTPUTS])
def test_every_output_option_keeps_a_symlink(tmp_path, inputs, args, option, name):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / name
    target.write_bytes(b"")
    link = tmp_path / name
    link.symlink_to(target)
    run_cli(tmp_path, command(args, inputs, option, link))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.stat().st_size > 0
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "real") == []


FULL = "/dev/full"  # a device whose every write fails with ENOSPC, as on a full disk


@pytest.mark.skipif(not os.path.exists(FULL), reason=f"no {FULL} on this system")
@pytest.mark.parametrize(("args", "option", "name"), OUTPUTS,
                         ids=[f"{a[0]} {o}" for a, o, _ in OUTPUTS])
def test_every_output_option_names_a_full_disk(tmp_path, inputs, args, option, name):
    link = tmp_path / name  # the name says the format
    link.symlink_to(FULL)
    result = CliRunner().invoke(main, command(args, inputs, option, link))
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == (  # after the training's epoch lines
        f"embedkit: error: {link}: cannot write (No space left on device)")


@pytest.mark.parametrize(("args", "option", "name"), OUTPUTS,
                         ids=[f"{a[0]} {o}" for a, o, _ in OUTPUTS])
def test_every_output_option_refuses_a_socket_before_work(tmp_path, inputs, args, option, name):
    """A Unix socket cannot be opened by name: one clear line, before any training."""
    import socket

    path = tmp_path / name
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        result = CliRunner().invoke(main, command(args, inputs, option, path))
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"embedkit: error: {path}: is a Unix socket, which cannot be "
                             "opened as a file: expected a file, FIFO or device name (send the "
                             "output to a socket with a tool such as socat)\n")


@pytest.mark.skipif(not os.path.exists(FULL), reason=f"no {FULL} on this system")
@pytest.mark.parametrize("args", [["vocab", "{corpus}", "--min-count", "1"],
                                  ["encode", "{model}", "{matrix}"],
                                  ["neighbors", "{vectors}", "w1", "--json"]])
def test_stdout_on_a_full_disk_is_named(inputs, args):
    with open(FULL, "w") as full:
        done = subprocess.run([sys.executable, "-m", "embedkit", *(a.format(**inputs)
                                                                   for a in args)],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == "embedkit: error: <stdout>: cannot write (No space left on device)\n"


def test_case11_symlink_to_proc_self_fd_1_prints_to_stdout(tmp_path):
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    done = subprocess.run([sys.executable, "-m", "embedkit", "vocab", str(CASE11),
                           "--min-count", "1", "-o", str(link)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == CASE11_VOCAB
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_case11_fifo_reader_gets_the_vocabulary(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    run_cli(tmp_path, ["vocab", str(CASE11), "--min-count", "1", "-o", str(fifo)])
    assert b"".join(reader.stop()).decode() == CASE11_VOCAB
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


#: Every output option that writes text, by the name it is given.
TEXT_OUTPUTS = [(args, option, name) for args, option, name in OUTPUTS
                if name.endswith((".tsv", ".txt", ".jsonl", ".csv", ".vec"))]


@pytest.mark.parametrize(("args", "option", "name"), TEXT_OUTPUTS,
                         ids=[f"{a[0]} {o}" for a, o, _ in TEXT_OUTPUTS])
def test_every_text_output_named_gz_is_compressed(tmp_path, inputs, args, option, name):
    # Only the vector writers compressed; the others wrote plain text under a .gz name.
    run_cli(tmp_path, command(args, inputs, option, tmp_path / f"{name}.gz"))
    with gzip.open(tmp_path / f"{name}.gz", "rt", encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    assert lines and all(lines[:2])
    if name.endswith(".jsonl"):
        assert "epoch" in json.loads(lines[0])
    assert leftovers(tmp_path) == []


def test_text_output_named_bz2_is_compressed_and_read_back(tmp_path, inputs):
    path = tmp_path / "vocab.tsv.bz2"
    run_cli(tmp_path, ["vocab", inputs["corpus"], "--min-count", "1", "-o", str(path)])
    assert bz2.decompress(path.read_bytes()).decode().startswith("the\t")
    words, counts = read_vocab(path)
    assert words[0] == "the" and counts[0] == 80


ARCHIVE_OUTPUTS = [(args, option, name) for args, option, name in OUTPUTS
                   if name.endswith(".npz")] + [(["windows", "{corpus}", "--min-count", "1"],
                                                 "-o", "w.npz")]


@pytest.mark.parametrize(("args", "option", "name"), ARCHIVE_OUTPUTS,
                         ids=[f"{a[0]} {o}" for a, o, _ in ARCHIVE_OUTPUTS])
def test_every_npz_output_named_gz_is_refused_before_any_work(tmp_path, inputs, args, option,
                                                              name):
    # A zip writer seeks back, which a gzip stream cannot: it failed after training with
    # "Negative seek in write mode".
    path = tmp_path / f"{name}.gz"
    result = CliRunner().invoke(main, command(args, inputs, option, path))
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"embedkit: error: {path}: an .npz is a zip archive already: "
                             f"drop the .gz suffix\n")  # one line: no epoch ran
    assert leftovers(tmp_path) == []


NPZ_WRITERS = ARCHIVE_OUTPUTS + [(W2V, "-o", "v.npz"),
                                 (["convert", "{vectors}"], "--format npz", "out.npz")]


def npz_command(args, inputs, option, path):
    # convert takes its output as an argument; "--format npz" goes after it
    if option.startswith("--format"):
        return [a.format(**inputs) for a in args] + [str(path), *option.split()]
    return command(args, inputs, option, path)


@pytest.mark.skipif(not os.path.exists(os.devnull), reason=f"no {os.devnull}")
@pytest.mark.parametrize(("args", "option", "name"), NPZ_WRITERS,
                         ids=[f"{a[0]} {o}" for a, o, _ in NPZ_WRITERS])
def test_every_npz_output_writes_to_dev_null(tmp_path, inputs, args, option, name):
    # /dev/null answers every seek with position 0: the zip writer's offsets came out
    # negative and every .npz output failed after training with "argument out of range".
    link = tmp_path / name  # the name says the format
    link.symlink_to(os.devnull)
    result = CliRunner().invoke(main, npz_command(args, inputs, option, link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == os.devnull


@pytest.mark.parametrize("target", [os.devnull, "/dev/stdout", "-"])
def test_npz_to_stdout_or_dev_null_in_a_subprocess(tmp_path, inputs, target):
    """The same archive, whatever stdout is: a pipe, /dev/null, or a regular file."""
    args = [sys.executable, "-m", "embedkit", "convert", inputs["vectors"], target,
            "--format", "npz"]
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    if target != os.devnull:
        piped = subprocess.run(args, capture_output=True, timeout=120)
        assert piped.returncode == 0, piped.stderr
        (tmp_path / "piped.npz").write_bytes(piped.stdout)
        with open(tmp_path / "file.npz", "wb") as file:
            subprocess.run(args, stdout=file, check=True, timeout=120)
        for name in ("piped.npz", "file.npz"):
            with np.load(tmp_path / name) as archive:
                assert archive["words"].tolist() == [f"w{i}" for i in range(6)]


def test_a_sequential_output_writes_everything_a_raw_file_takes_in_parts():
    class Slow(io.RawIOBase):
        """A raw file that takes at most 3 bytes per call, as a pipe may when a signal arrives."""

        def __init__(self):
            self.got = bytearray()

        def writable(self):
            return True

        def write(self, data):
            part = bytes(memoryview(data)[:3])
            self.got += part
            return len(part)

    raw = Slow()
    out = eio._Sequential(raw, owned=False)
    assert out.write(np.arange(5, dtype=np.float32)) == 20
    assert out.write(b"0123456789") == 10
    assert bytes(raw.got) == np.arange(5, dtype=np.float32).tobytes() + b"0123456789"


@pytest.mark.parametrize(("args", "option", "name"), OUTPUTS,
                         ids=[f"{a[0]} {o}" for a, o, _ in OUTPUTS])
def test_every_output_option_refuses_a_symlink_loop_before_work(tmp_path, inputs, args, option,
                                                                 name):
    # The loop was taken for a new name: the link was replaced by the output.
    link, other = tmp_path / name, tmp_path / "other"
    link.symlink_to(other)
    other.symlink_to(link)
    result = CliRunner().invoke(main, command(args, inputs, option, link))
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"embedkit: error: {link}: is a loop of symbolic links, which "
                             "leads to no file: expected a file name to write\n")  # no epoch
    assert os.readlink(link) == str(other) and os.readlink(other) == str(link)


def chattr(flag: str, path: Path) -> bool:
    """Set or clear an attribute such as ``+i``; False where the file system or user cannot."""
    try:
        done = subprocess.run(["chattr", flag, str(path)], capture_output=True, timeout=30)
    except FileNotFoundError:
        return False
    return done.returncode == 0


@pytest.mark.parametrize(("args", "option", "name"), OUTPUTS,
                         ids=[f"{a[0]} {o}" for a, o, _ in OUTPUTS])
def test_every_output_option_refuses_an_immutable_file_before_work(tmp_path, inputs, args,
                                                                    option, name):
    # A rename over an immutable file fails even for root: that failed after training with
    # "[Errno 1] Operation not permitted: '.../.v.vec.x.tmp' -> '.../v.vec'".
    path = tmp_path / name
    path.write_bytes(b"keep")
    if not chattr("+i", path):
        pytest.skip("chattr +i is not available here (needs root and a file system with it)")
    try:
        result = CliRunner().invoke(main, command(args, inputs, option, path))
    finally:
        chattr("-i", path)
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"embedkit: error: {path}: cannot replace the file (Operation not "
                             "permitted; is it immutable or append-only? see lsattr)\n")
    assert path.read_bytes() == b"keep" and leftovers(tmp_path) == []


def test_a_rename_refused_at_the_end_names_the_file(tmp_path, monkeypatch):
    """Should the file become immutable during the work, the last step names it too."""
    path = tmp_path / "out.txt"

    def refuse(source, destination):
        raise PermissionError(1, "Operation not permitted", source, None, destination)

    monkeypatch.setattr(eio.os, "replace", refuse)
    with pytest.raises(EmbedkitError) as caught:
        with eio.atomic_output(path) as out:
            out.write("x")
    assert str(caught.value) == (f"{path}: cannot replace the file (Operation not permitted; "
                                 "is it immutable or append-only? see lsattr)")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("args, option, name, work", [
    (["map", "{vectors}", "--top", "4"], "-o", "map.html", "embedkit.plots.wordmap.word_map"),
    (["encode", "{model}", "{matrix}"], "-o", "codes.csv",
     "embedkit.ae.estimator.Autoencoder.transform_blocks"),
    (["decode", "{model}", "{codes}"], "-o", "rows.npy",
     "embedkit.ae.estimator.Autoencoder.inverse_transform_blocks"),
])
def test_map_encode_decode_check_their_output_before_the_work(tmp_path, inputs, monkeypatch,
                                                               args, option, name, work):
    # They found an output they could not replace only once the map or codes were computed.
    def started(*args, **kwargs):
        raise AssertionError("the work started")

    monkeypatch.setattr(work, started)
    link, other = tmp_path / name, tmp_path / "other"
    link.symlink_to(other)
    other.symlink_to(link)
    result = CliRunner().invoke(main, command(args, inputs, option, link))
    assert result.exit_code == 1, result.output
    assert "is a loop of symbolic links" in result.stderr
