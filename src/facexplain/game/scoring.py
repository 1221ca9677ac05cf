"""The Face Game score: the Jaccard index ``|P & T| / |P | T|`` of the player's AUs P and the target's AUs T."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping

from ..faces.aus import au_number


def au_set(aus) -> frozenset[int]:
    """Normalise a collection of AUs (4, "4", "AU4"; or a dict AU -> intensity, kept where > 0) to AU numbers.

    Raises ValueError for an AU that FACS (as tabled in facexplain.faces) does not have."""
    if aus is None:
        raise ValueError("expected a collection of AUs (e.g. {6, 12} or ['AU6', 'AU12']); got None")
    if isinstance(aus, (str, bytes, numbers.Number)):
        raise ValueError(f"expected a collection of AUs, not a single value {aus!r}: wrap it, e.g. [{aus!r}]")
    if isinstance(aus, Mapping):
        return frozenset(au_number(a) for a, v in aus.items() if v is not None and float(v) > 0)
    if not isinstance(aus, Iterable):
        raise ValueError(f"expected a collection of AUs; got {type(aus).__name__}")
    return frozenset(au_number(a) for a in aus)


def jaccard(player, target) -> float:
    """Face Game score of a try: ``|P & T| / |P | T|``; two empty sets count as a perfect match (1.0)."""
    p, t = au_set(player), au_set(target)
    union = p | t
    if not union:
        return 1.0
    return len(p & t) / len(union)
