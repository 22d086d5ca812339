"""Cross-cutting machinery every domain uses: database, unit of work, outbox, audit, request context."""
