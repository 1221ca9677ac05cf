"""Figures and kernel-free widgets for the book."""

from .style import use_book_style
from .widgets import browser, image_to_widget

__all__ = ["browser", "image_to_widget", "use_book_style"]
