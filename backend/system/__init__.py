"""What the API says about itself: the region it serves, its version, a connectivity heartbeat."""
