"""``.npz`` archives with a JSON header: the file layout of models and checkpoints (of the
autoencoders and of word2vec), and the check that a checkpoint belongs to the resuming run."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import atomic_output, describe, open_input
from embedkit.npyfile import NpzArchive

#: The kinds of archive, as messages call them, and the option that writes each: they share
#: the layout, and their format numbers overlap.
W2V_CHECKPOINT = "embedkit word2vec checkpoint"
AE_CHECKPOINT = "embedkit autoencoder checkpoint"
AE_MODEL = "embedkit autoencoder model"
WRITTEN_BY = {W2V_CHECKPOINT: "train-w2v --checkpoint", AE_CHECKPOINT: "autoencode --checkpoint",
              AE_MODEL: "autoencode -o"}
#: What a file of each kind is for: said when one is given where it cannot be used.
USED_BY = {W2V_CHECKPOINT: "continue its training with train-w2v --resume {}",
           AE_CHECKPOINT: "continue its training with autoencode --resume {}",
           AE_MODEL: "use it as the MODEL of encode, decode or compare-pca"}


def wrong_kind(name: str, kind: str, expected: str) -> EmbedkitError:
    """The error for ``name``, an archive of ``kind`` (one of :data:`WRITTEN_BY`), given where
    ``expected`` (what the reader wanted, said in full) is read: it names the kind, what
    writes it, what was expected and what to do with this file instead."""
    return EmbedkitError(f"{name}: an {kind} (written by {WRITTEN_BY[kind]}), expected "
                         f"{expected}; {USED_BY[kind].format(name)}")


def kind_of_archive(archive: NpzArchive) -> str | None:
    """The kind (:func:`archive_kind`) of an open ``archive``, or None when its ``meta``
    member is missing, damaged or not an embedkit header."""
    try:
        meta = json.loads(str(archive.read("meta")))
    except (EmbedkitError, ValueError):
        return None
    return archive_kind(meta) if isinstance(meta, dict) else None


def archive_kind(meta: dict) -> str | None:
    """Which of :data:`WRITTEN_BY` an archive's header ``meta`` belongs to, by the keys only
    that kind writes (files of every version so far), or None."""
    if "rng" in meta and "context" in meta:
        return AE_CHECKPOINT
    if "params" in meta and "epoch" not in meta:
        return AE_MODEL
    if "history" in meta and "context" in meta:
        return W2V_CHECKPOINT
    return None


def write_archive(path: str | os.PathLike | None, meta: dict,
                  arrays: dict[str, np.ndarray]) -> None:
    """Write ``meta`` (JSON-able) and named arrays atomically (None or ``-``: stdout)."""
    with atomic_output(path, binary=True) as out:
        members: dict[str, Any] = {"meta": np.array(json.dumps(meta)), **arrays}
        np.savez(out, **members)


def read_archive(path: str | os.PathLike, what: str, fmt: int
                 ) -> tuple[dict, dict[str, np.ndarray]]:
    """Read an archive of :func:`write_archive` whose header has ``"format": fmt``.

    Parameters
    ----------
    path : str or path-like
    what : str
        What the file should be, one of :data:`WRITTEN_BY`.
    fmt : int
        The expected layout version.

    Returns
    -------
    (dict, dict of ndarray)
        The header and the arrays.

    Raises
    ------
    EmbedkitError
        When the file is missing, is not such an archive (another kind is named, with the
        option that writes the kind expected), or has another format.
    """
    name = describe(path)
    with open_input(path, binary=True) as stream:
        raw = stream.read()
    try:
        with NpzArchive(raw, name) as archive:
            meta = json.loads(str(archive.read("meta")))
            arrays = {key: archive.read(key) for key in archive.names if key != "meta"}
        found = meta.get("format")
    except (EmbedkitError, ValueError, AttributeError) as exc:  # damage, or not our header
        raise EmbedkitError(f"{name}: not an {what} ({exc})") from None
    kind = archive_kind(meta)
    if kind is not None and kind != what:
        raise wrong_kind(name, kind, f"an {what} (written by {WRITTEN_BY[what]})")
    if found != fmt:
        raise EmbedkitError(f"{name}: {what} format {found!r}, expected {fmt}")
    return meta, arrays


def with_prefix(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays named ``prefix + name``, keyed by ``name`` (archives keep dicts flat)."""
    return {key.removeprefix(prefix): value for key, value in arrays.items()
            if key.startswith(prefix)}


def check_context(name: str, saved: dict, context: dict, data_key: str) -> None:
    """Raise unless a checkpoint's ``saved`` context equals the resuming run's ``context``.

    Parameters
    ----------
    name : str
        The checkpoint, as named in messages.
    saved, context : dict
        JSON-able descriptions of the run (settings, and a digest of the data under
        ``data_key``), compared key by key in the order of ``context``.
    data_key : str

    Raises
    ------
    EmbedkitError
        Naming the first key that differs.
    """
    for key, value in context.items():
        theirs = saved.get(key)
        if theirs != value and key == data_key:
            raise EmbedkitError(f"{name}: the checkpoint was written for other data; resume "
                                "with the same data")
        if theirs != value:
            raise EmbedkitError(f"{name}: the checkpoint was written with {key} = {theirs!r}, "
                                f"this run has {value!r}; resume with the same data and "
                                "settings")
