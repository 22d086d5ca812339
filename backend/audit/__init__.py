"""The append-only audit log: who did or read what, for whom, through which channel, and why."""
