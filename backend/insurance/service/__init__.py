"""The insurance domain's services: the digital policy, billed care, disputes and complaints, insurer change,
the virtual insurance representative (one module each)."""

from backend.insurance.service import billed, changes, messages, policy, tickets

__all__ = ["billed", "changes", "messages", "policy", "tickets"]
