"""Development-only views (embedded and test profiles; never mounted in production)."""
