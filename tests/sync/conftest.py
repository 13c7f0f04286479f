"""The uploader's tests: `anju` commands forked from the worker's fork server."""

from tests.anju import forked_anju

__all__ = ["forked_anju"]  # autouse: `anju` commands forked (tests/anju.py)
