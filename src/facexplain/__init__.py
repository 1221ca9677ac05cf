"""facexplain: the package behind the executable book on explainable facial expression recognition."""

__version__ = "0.1.0"
