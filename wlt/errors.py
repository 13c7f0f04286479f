"""Exceptions of the WLT photo decoder adapter.

    PhotoDecoderError    root: a configured decoder could not be loaded, refused the block,
                         returned a failure or wrote something that is not the expected bitmap;
                         retrying the same photo does not help
"""

from __future__ import annotations


class PhotoDecoderError(Exception):
    """The optional WLT photo decoder is missing or failed."""
