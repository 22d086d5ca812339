"""The call record of the 122 call centre: each call opened and closed with its outcome, what the operator did
inside it (read from the audit trail), its duration, and the supervisor's view of calls per hour and outcome."""
