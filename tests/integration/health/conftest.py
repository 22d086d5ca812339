"""Health tests: the shared fixtures of tests/conftest.py and the TCP proxy in tests/support/proxy.py."""
