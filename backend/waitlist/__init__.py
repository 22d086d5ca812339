"""The waitlist with offers of freed slots (see service.py and README.md)."""
