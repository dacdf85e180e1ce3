"""Canonical business objects shared by every layer."""
