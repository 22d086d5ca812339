"""Migration tests: each test migrates its own scratch database (the module's scratch_url)."""
