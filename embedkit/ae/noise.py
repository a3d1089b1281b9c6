"""Input corruption for denoising autoencoders: additive Gaussian noise or random masking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedkit.errors import ParameterError

NOISE_KINDS = ("gaussian", "mask")


@dataclass(frozen=True)
class Noise:
    """A corruption ``q(x' | x)``: ``gaussian`` adds ``N(0, level²)`` to every entry, ``mask``
    sets each entry to zero with probability ``level``."""

    kind: str
    level: float

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise ParameterError(f"noise {self.kind!r}: expected gaussian:SIGMA or mask:P",
                                params=("noise",))
        if not np.isfinite(self.level) or self.level < 0 or (self.kind == "mask"
                                                             and self.level >= 1):
            expected = "a probability in [0, 1)" if self.kind == "mask" else "a finite SIGMA ≥ 0"
            raise ParameterError(f"noise {self.kind}:{self.level}: expected {expected}",
                                params=("noise",))

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A corrupted copy of ``x`` (fresh noise on every call)."""
        if self.kind == "gaussian":
            return x + (self.level * rng.standard_normal(x.shape)).astype(x.dtype, copy=False)
        return x * (rng.random(x.shape, dtype=np.float32) >= self.level)

    def __str__(self) -> str:
        return f"{self.kind}:{self.level:g}"


def parse_noise(spec: str | None) -> Noise | None:
    """``"gaussian:SIGMA"`` or ``"mask:P"`` as a :class:`Noise`; None or ``""`` for none."""
    if not spec:
        return None
    kind, sep, level = spec.partition(":")
    try:
        value = float(level)
    except ValueError:
        value = None
    if not sep or value is None:
        raise ParameterError(f"noise {spec!r}: expected gaussian:SIGMA or mask:P, "
                            "e.g. gaussian:0.1 or mask:0.3", params=("noise",))
    return Noise(kind, value)
