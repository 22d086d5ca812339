"""Preferential drugs, e-prescriptions, pharmacy availability, renewals and certificates without a visit."""
