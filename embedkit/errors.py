"""The exceptions embedkit raises for problems a user can fix.

The CLI turns each into a one-line message and a non-zero exit status; library callers catch
them like any ``ValueError``.
"""


class EmbedkitError(ValueError):
    """Bad input or settings: the message names the file, line or field and what was expected.

    Parameters
    ----------
    message : str
    params : sequence of str
        The library parameters the message names, as written in it (e.g. ``"batch_size"``):
        the CLI replaces each by its option (``--batch-size``), so the library speaks of its
        own parameters and a command of its own options.
    """

    def __init__(self, message: str = "", *, params: tuple[str, ...] = ()):
        super().__init__(message)
        self.params = params


class ParameterError(EmbedkitError):
    """A parameter's value cannot be used (out of range, unknown name, malformed), whatever
    the data: the command line's usage error, so the CLI exits with 2 as Click does for the
    values it checks itself. ``params`` names the parameter at fault first.
    """


class DivergenceError(EmbedkitError):
    """Training produced NaN or infinite values; nothing was written."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a long computation, with a message saying where it stopped.

    Raised (``from`` the original ``KeyboardInterrupt``) by training loops, e.g. ``"training
    stopped in epoch 3 of 50 ..."``; the CLI prints ``embedkit: interrupted: <message>`` and exits
    with 130. Being a ``KeyboardInterrupt``, it passes through ``except Exception`` handlers and
    still removes the temporary files of :func:`embedkit.io.atomic_output`.
    """
