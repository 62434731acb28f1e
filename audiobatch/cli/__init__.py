"""The ``audiobatch`` command line."""

from audiobatch.cli.main import main

__all__ = ["main"]
