"""API-layer tests (GraphQL transport, guards, subscriptions, trusted documents, statement counts): they use the
shared fixtures of tests/conftest.py and the builders in tests/support/ (testschema, client, statements)."""
