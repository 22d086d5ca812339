"""Directory tests: the shared fixtures of tests/conftest.py; the region comes from integrations.demo_region."""
