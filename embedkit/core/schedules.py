"""Learning-rate schedules: callables mapping the optimizer's step count to a learning rate.

Any ``Callable[[float], float]`` is a schedule; these are the ones embedkit ships. An optimizer
given a schedule asks it for the rate before every step, with the number of steps already taken;
word2vec asks its own with the number of words processed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

#: A learning rate as a function of the progress: optimizer steps (or words) already taken.
Schedule = Callable[[float], float]


def constant(lr: float) -> Schedule:
    """The same rate at every step.

    Parameters
    ----------
    lr : float
        The learning rate (> 0).
    """
    _check_rates(lr)
    return lambda step: lr


def linear_decay(start: float, floor: float, total_steps: int) -> Schedule:
    """A rate falling linearly from ``start`` at step 0 to ``floor`` at ``total_steps``, then
    staying at ``floor`` (word2vec's schedule).

    Parameters
    ----------
    start, floor : float
        First and last rate (``0 <= floor <= start``).
    total_steps : int
        Steps over which the rate decays (> 0).
    """
    _check_rates(start, floor, total_steps)
    return lambda step: floor + (start - floor) * max(1.0 - step / total_steps, 0.0)


def cosine(start: float, floor: float, total_steps: int) -> Schedule:
    """Cosine annealing from ``start`` at step 0 to ``floor`` at ``total_steps``, then ``floor``.

    Parameters
    ----------
    start, floor : float
        First and last rate (``0 <= floor <= start``).
    total_steps : int
        Steps over which the rate anneals (> 0).
    """
    _check_rates(start, floor, total_steps)
    return lambda step: floor + (start - floor) * 0.5 * (
        1.0 + math.cos(math.pi * min(step / total_steps, 1.0)))


def _check_rates(start: float, floor: float = 0.0, total_steps: int = 1) -> None:
    if not start > 0:
        raise ValueError(f"learning rate must be > 0, got {start}")
    if not 0 <= floor <= start:
        raise ValueError(f"final learning rate must be between 0 and {start}, got {floor}")
    if total_steps < 1:
        raise ValueError(f"a decaying schedule needs total_steps >= 1, got {total_steps}")
