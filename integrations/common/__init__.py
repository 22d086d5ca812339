"""Plumbing shared by every upstream adapter: HTTP client construction and simulator faults."""
