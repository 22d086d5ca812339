"""Phone number validation and normalisation to E.164 (Russia by default)."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "RU"
_MAX_RAW_LENGTH = 64


class InvalidPhone(ValueError):
    """The input is not a valid phone number; ``str(exc)`` is a message for the person who typed it."""

    def __init__(self, message: str = "Неверный номер телефона. Укажите номер в формате +7 912 345-67-89") -> None:
        super().__init__(message)
        self.message = message


def normalise_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """Return ``raw`` as E.164 (``+79123456789``) or raise :class:`InvalidPhone`.

    A national Russian number may be written with the trunk prefix 8 (``8 (912) 345-67-89``);
    foreign numbers must carry their ``+`` country code.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise InvalidPhone("Укажите номер телефона")
    if len(text) > _MAX_RAW_LENGTH:
        raise InvalidPhone()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone() from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
