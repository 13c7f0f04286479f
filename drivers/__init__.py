"""Devices: bytes <-> typed readings. Imports no SQLite, no HTTP, no web."""
