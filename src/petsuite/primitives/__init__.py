"""Thin, typed wrappers over vetted cryptographic libraries. Hazardous: use the PET recipes."""
