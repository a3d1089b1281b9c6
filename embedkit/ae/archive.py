"""``.npz`` archives with a JSON header: the file layout of models and checkpoints."""

from __future__ import annotations

import json
import os

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import atomic_output, describe, open_input


def write_archive(path: str | os.PathLike | None, meta: dict,
                  arrays: dict[str, np.ndarray]) -> None:
    """Write ``meta`` (JSON-able) and named arrays atomically (None or ``-``: stdout)."""
    with atomic_output(path, binary=True) as out:
        np.savez(out, meta=np.array(json.dumps(meta)), **arrays)


def read_archive(path: str | os.PathLike, what: str, fmt: int
                 ) -> tuple[dict, dict[str, np.ndarray]]:
    """Read an archive of :func:`write_archive` whose header has ``"format": fmt``.

    Parameters
    ----------
    path : str or path-like
    what : str
        What the file should be, for messages ("embedkit autoencoder model").
    fmt : int
        The expected layout version.

    Returns
    -------
    (dict, dict of ndarray)
        The header and the arrays.

    Raises
    ------
    EmbedkitError
        When the file is missing, is not such an archive, or has another format.
    """
    name = describe(path)
    with open_input(path, binary=True) as stream:
        try:
            archive = np.load(stream, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an .npz archive")
            meta = json.loads(str(archive["meta"]))
            arrays = {key: archive[key] for key in archive.files if key != "meta"}
            found = meta.get("format")
        except (ValueError, KeyError, OSError, EOFError, AttributeError) as exc:
            raise EmbedkitError(f"{name}: not an {what} ({exc})") from None
    if found != fmt:
        raise EmbedkitError(f"{name}: {what} format {found!r}, expected {fmt}")
    return meta, arrays


def with_prefix(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays named ``prefix + name``, keyed by ``name`` (archives keep dicts flat)."""
    return {key.removeprefix(prefix): value for key, value in arrays.items()
            if key.startswith(prefix)}
