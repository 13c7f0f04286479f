"""The police side: search, stay view, co-stay, export, all written to the audit log."""
