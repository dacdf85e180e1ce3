"""Payload encryption for Temporal: the codec, its keys, and the data converter built from them."""
