"""What the engine, the oracles and the diagnoses share: the result, the error measure and the
tolerance, a mismatch entry by entry, and calling and guarding user code.

Internal: not part of the public contract."""
