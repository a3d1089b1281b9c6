"""The exceptions embedkit raises for problems a user can fix.

The CLI turns each into a one-line message and a non-zero exit status; library callers catch
them like any ``ValueError``.
"""


class EmbedkitError(ValueError):
    """Bad input or settings: the message names the file, line or field and what was expected."""


class DivergenceError(EmbedkitError):
    """Training produced NaN or infinite values; nothing was written."""
