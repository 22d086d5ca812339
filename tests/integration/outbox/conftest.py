"""Outbox tests: the shared fixtures of tests/conftest.py and the throwaway schema in tests/support/testschema.py."""
