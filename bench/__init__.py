"""Benchmarks that print their figures (``make bench``). Never timed assertions: figures go in notes."""
