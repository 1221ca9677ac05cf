"""The one exception every real-dataset loader raises on bad input, so callers catch a single type."""

from __future__ import annotations


class DatasetError(ValueError, FileNotFoundError):
    """Bad dataset input (missing folder, wrong layout, corrupt image, unknown label code).

    The message names what was found, where, and what was expected. It subclasses both ValueError and
    FileNotFoundError so `except ValueError` and `except FileNotFoundError` both catch it.
    """
