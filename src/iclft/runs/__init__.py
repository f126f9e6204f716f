"""The runs folder: its names (layout), atomic folders (atomic), locks (lock), record types (records)."""
