"""Core tests (the unit of work, hot statements, the engine's pool): the shared fixtures of tests/conftest.py."""
