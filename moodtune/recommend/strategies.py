"""Strategies: where a playlist should go, as a path of target points through valence/arousal space.

Every strategy starts where the listener is (the iso principle of music therapy: meet the mood first) and
moves in equal steps to a destination it chooses. Step 1 is always the listener's own mood, the last step
the destination; a one-song playlist is just the mood.

=========  =====================================================================================
``match``  stay with the mood: every step is the mood itself
``lift``   toward bright and moderately lively music (valence 0.80, arousal 0.60); never darker
``calm``   toward bright, calm music (valence 0.70, arousal 0.30)
``goal``   toward any point, e.g. ``goal 0.8,0.3`` or ``get_strategy("goal", goal=(0.8, 0.3))``
=========  =====================================================================================

A new strategy is one small class: give it a ``name`` and a ``toward`` phrase, implement
:meth:`Strategy.destination`, and decorate it with :func:`register`.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from moodtune.errors import ParameterError

_REGISTRY: dict[str, type[Strategy]] = {}

#: Where ``lift`` goes: clearly pleasant, a little livelier than neutral (the happy anchor lies at 0.85, 0.66).
LIFT_TO = (0.80, 0.60)
#: Where ``calm`` goes: pleasant and low in arousal.
CALM_TO = (0.70, 0.30)


class Strategy:
    """Base class: a path of ``n`` points from the mood to :meth:`destination`, in equal steps."""

    #: Registry name, as typed on the command line.
    name: ClassVar[str] = ""
    #: Words for the destination in reasons: "step 3 of 10 from sad toward {toward}".
    toward: ClassVar[str] = ""

    def destination(self, start: np.ndarray) -> np.ndarray:
        """Where the path ends, given where it starts; both shape (2,) (valence, arousal)."""
        raise NotImplementedError

    def path(self, start, *, n: int) -> np.ndarray:
        """The target point of each step.

        Parameters
        ----------
        start : array-like, shape (2,)
            The mood's (valence, arousal).
        n : int
            Number of steps (songs).

        Returns
        -------
        np.ndarray, shape (n, 2)
            Row 0 is ``start``, row ``n - 1`` the destination (for ``n > 1``), evenly spaced between.
        """
        start = np.asarray(start, dtype=np.float64)[:2]
        end = np.asarray(self.destination(start), dtype=np.float64)
        t = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
        return start + t[:, None] * (end - start)

    @property
    def spec(self) -> str:
        """The text :func:`get_strategy` reads back into this strategy (stored with each session)."""
        return self.name

    def __repr__(self) -> str:
        return f"get_strategy({self.spec!r})"


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available by its ``name``."""
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"strategy {cls.__name__} needs a new, non-empty name, got {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def names() -> list[str]:
    """Registered strategy names, in registration order."""
    return list(_REGISTRY)


@register
class Match(Strategy):
    """Stay with the mood."""

    name = "match"
    toward = "your mood"

    def destination(self, start):
        return start


@register
class Lift(Strategy):
    """Iso principle: start with the mood, then brighten step by step. Never ends darker than it starts."""

    name = "lift"
    toward = "a brighter mood"

    def destination(self, start):
        return np.array([max(float(start[0]), LIFT_TO[0]), LIFT_TO[1]])


@register
class Calm(Strategy):
    """Start with the mood, then settle toward calm, pleasant music."""

    name = "calm"
    toward = "calm"

    def destination(self, start):
        return np.array(CALM_TO)


@register
class Goal(Strategy):
    """Start with the mood, then move to a point of the listener's choosing.

    Parameters
    ----------
    goal : str or array-like of 2 floats
        ``"V,A"`` text or a (valence, arousal) pair, each on [0, 1].
    """

    name = "goal"

    def __init__(self, goal=None):
        if goal is None:
            raise ParameterError("strategy goal needs a point: goal V,A with valence and arousal on [0, 1], "
                                 "e.g. --goal 0.8,0.3")
        self.point = parse_goal(goal)

    @property
    def toward(self) -> str:  # a property here: the words depend on the point
        from moodtune.recommend.playlist import describe

        v, a = self.point
        return f"{describe(v, a)} (valence {v:.2f}, arousal {a:.2f})"

    def destination(self, start):
        return np.array(self.point)

    @property
    def spec(self) -> str:
        return f"goal {self.point[0]:g},{self.point[1]:g}"


def parse_goal(goal) -> tuple[float, float]:
    """Read a goal point from ``"V,A"`` text or a pair of numbers.

    Raises
    ------
    ParameterError
        Unless it is two finite numbers, each on [0, 1].
    """
    parts = goal.replace(" ", "").split(",") if isinstance(goal, str) else goal
    try:
        values = [float(x) for x in parts]
    except (TypeError, ValueError):
        values = []
    if len(values) != 2 or not all(math.isfinite(x) and 0 <= x <= 1 for x in values):
        raise ParameterError(f"goal must be two numbers V,A (valence, arousal), each from 0 to 1, e.g. 0.8,0.3; "
                             f"got {goal!r}")
    return values[0], values[1]


def get_strategy(strategy: str | Strategy = "match", *, goal=None) -> Strategy:
    """A strategy by name.

    Parameters
    ----------
    strategy : str or Strategy
        A registered name (``"match"``, ``"lift"``, ``"calm"``, ``"goal"``), or ``"goal V,A"`` with the point
        in the text; a Strategy instance is returned as it is.
    goal : str or array-like, optional
        The point for ``"goal"``; only that strategy takes one.

    Raises
    ------
    ParameterError
        For an unknown name, a missing or malformed goal, or a goal given to another strategy.
    """
    if isinstance(strategy, Strategy):
        if goal is not None:
            raise ParameterError("give the goal point inside the strategy object or by name, not both")
        return strategy
    if not isinstance(strategy, str):
        raise ParameterError(f"strategy must be a name ({', '.join(names())}), got {strategy!r}")
    name, _, argument = strategy.strip().partition(" ")
    name = name.lower()
    if name not in _REGISTRY:
        raise ParameterError(f"unknown strategy {strategy!r}: use one of {', '.join(names())}")
    if argument.strip():
        if goal is not None:
            raise ParameterError(f"strategy {strategy!r} already names its goal; do not also pass goal={goal!r}")
        goal = argument
    if name == "goal":
        return Goal(goal)
    if goal is not None:
        raise ParameterError(f"a goal point is only used by strategy goal, not {name}; "
                             f"use strategy goal with goal {goal!r}, or leave the goal out")
    return _REGISTRY[name]()
