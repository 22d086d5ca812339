"""The GraphQL API: one schema built from the per-domain modules, its context and its guards."""
