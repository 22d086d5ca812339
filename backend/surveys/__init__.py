"""The satisfaction survey after a visit (see service.py)."""
