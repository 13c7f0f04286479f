"""The ID card reader (GA 467 SAM serial protocol).

Layers, each importing only the ones before it:
codec (sans-IO frames) -> cards/codes (text block -> CardRead) -> transport (pyserial)
-> reader (poll loop, one reading per placement).
"""
