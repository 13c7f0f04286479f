"""Barcode scanners, document readers (MRZ), image decoding and what a scan means.

Start at `hub.py` (the API the front desk uses) and docs/barcode.md (layers, formats, limits).
"""
