"""Celery worker tests: a real worker on the test Redis (the module's worker_settings)."""
