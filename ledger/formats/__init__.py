"""Bytes <-> values, no I/O: the canonical codec, Ed25519, C2SP notes, keys and checkpoints,
records, entries and tiles."""
