"""The transactional outbox: side effects written with the business change, relayed after commit."""
