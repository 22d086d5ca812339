"""The personal document vault: encrypted uploads, time-limited sharing with doctors, every access logged."""
