"""Argument checks that name the argument: a wrong type or range gives one ValueError that says which argument,
what it got and what it takes. No package imports (every layer may use it)."""

from __future__ import annotations

import ast
import numbers


def _text(value) -> str:
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def _range(low, high, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}]"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    return f" <= {high:g}" if high is not None else ""


def integer(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int (an int, an integral float or numpy number); a ValueError naming `name` otherwise."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok and isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
        ok = True
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be a whole number{_range(low, high)}; got {_text(value)}")
    return int(value)


def real(name: str, value, low: float | None = None, high: float | None = None, low_open: bool = False) -> float:
    """`value` as a finite float in [low, high] ((low, high] when low_open); a ValueError naming `name` otherwise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and abs(float(value)) != float("inf") \
        and float(value) == float(value)
    if ok:
        v = float(value)
        ok = (low is None or (v > low if low_open else v >= low)) and (high is None or v <= high)
    if not ok:
        raise ValueError(f"{name} must be a finite number{_range(low, high, low_open)}; got {_text(value)}")
    return float(value)


def flag(name: str, value) -> bool:
    """`value` as a bool (True/False, or 0/1); a ValueError naming `name` otherwise."""
    if isinstance(value, bool) or type(value).__name__ == "bool_" or (isinstance(value, numbers.Integral)
                                                                     and value in (0, 1)):
        return bool(value)                       # numpy's bool_ (e.g. from a DataFrame) counts as a bool
    raise ValueError(f"{name} must be True or False; got {_text(value)}")


def text(name: str, value, choices=None) -> str:
    """`value` as a string, one of `choices` when given; a ValueError naming `name` otherwise."""
    if not isinstance(value, str) or (choices is not None and value not in choices):
        want = f"one of {list(choices)}" if choices is not None else "a string"
        raise ValueError(f"{name} must be {want}; got {_text(value)}")
    return value


def listed(name: str, value, item=str) -> list:
    """A list parameter given as a list/tuple, or as text ("[0, 1, 4]" or "0,1,4", as papermill -p passes it);
    each item is passed through `item(f"{name}[i]", v)` (a check above, or a plain type)."""
    if isinstance(value, str):
        s = value.strip()
        try:
            value = ast.literal_eval(s) if s.startswith(("[", "(")) else [v.strip() for v in s.split(",") if v.strip()]
        except (ValueError, SyntaxError):
            raise ValueError(f"{name}={value!r} is not a list: pass e.g. [0, 1, 4] (papermill: -y '{name}: [0, 1, 4]')"
                             ) from None
        if isinstance(value, (str, numbers.Number)):
            value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list; got {_text(value)}")
    out = []
    for i, v in enumerate(value):
        if item in (str, int, float):
            cast = {str: text, int: integer, float: real}[item]
            out.append(cast(f"{name}[{i}]", _number(v) if item is not str else v))
        else:
            out.append(item(f"{name}[{i}]", v))
    return out


def _number(v):
    """Numbers inside a list given as "0,1,4" text arrive as strings: read them as Python literals."""
    if isinstance(v, str):
        try:
            return ast.literal_eval(v.strip())
        except (ValueError, SyntaxError):
            return v
    return v


__all__ = ["flag", "integer", "listed", "real", "text"]
