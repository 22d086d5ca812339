"""What identity tells a person is Russian and names no part of the API."""

from __future__ import annotations

import re

from backend.identity import codes, identification, operators, policy, problems, proxies

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def test_no_identity_message_names_the_api() -> None:
    messages = [
        *(cls.MESSAGE for cls in vars(problems).values() if isinstance(cls, type) and hasattr(cls, "MESSAGE")),
        policy.ConfirmationRequired.MESSAGE,
        *identification.LOCKED_MESSAGES.values(),
        operators.TOTP_REUSED,
        problems.TOO_MANY_CODES,
        proxies.TOO_MANY_GRANTS,
        codes.WARNING_TEXT,
    ]
    assert len(messages) > 10
    named = [m for m in messages if LATIN_WORD.search(m)]
    assert not named, named
