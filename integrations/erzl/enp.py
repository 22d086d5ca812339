"""The single OMS policy number (ЕНП, единый номер полиса): its format and its control digit.

**Format.** 16 decimal digits (Правила ОМС, приказ Минздрава России от 28.02.2019 № 108н, п. 28: the policy
is «уникальная последовательность символов в машиночитаемом виде», the number assigned in the single
register of insured persons, ЕРЗЛ). Typed or scanned input may carry spaces or dashes; they are dropped.

**Control digit.** The 16th digit is a control digit. The rule is the one of the ФОМС codification
«Общие принципы построения и функционирования информационных систем и порядок информационного
взаимодействия в сфере обязательного медицинского страхования» (приказ ФОМС от 07.04.2011 № 79), section
on the structure of the single policy number, as implemented by the TFOMS-facing clinic software we could
read (the check «контрольная сумма в ПОЛИСЕ единого образца»):

  а) the digits in odd positions counted from the right of the first 15 (positions 15, 13, …, 1 from the
     left), taken right to left, written as a number, and that number multiplied by 2;
  б) the digits in even positions counted from the right (14, 12, …, 2), right to left, written as a
     number and put in front of the number of а);
  в) all digits of the number of б) added up;
  г) the sum subtracted from the nearest multiple of 10 not below it: that is the control digit.

:func:`control_digit_by_steps` follows these steps literally; :func:`control_digit` is the same value as
the Luhn (mod 10) check digit of the first 15 digits: doubling the number of а) carries exactly once
at each digit ≥ 5, which is what Luhn's "subtract 9" does digit by digit. The property tests prove the
two agree. Caveat: the order itself is not published in an official full text we could reach; where a
region's register disagrees, :func:`validate` with ``check_digit=False`` keeps the format check only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENP_LENGTH = 16
_SEPARATORS = re.compile(r"[\s\-]")


def normalise(value: str | None) -> str:
    """The digits of a typed or scanned number (spaces and dashes dropped; anything else kept, to fail)."""
    return _SEPARATORS.sub("", value or "")


def control_digit_by_steps(body: str) -> int:
    """The control digit of the first 15 digits, by the steps а)–г) of the codification."""
    if len(body) != ENP_LENGTH - 1 or not body.isdigit():
        raise ValueError("the body of an ЕНП is 15 digits")
    odd = "".join(body[i] for i in range(14, -1, -2))  # positions 15, 13, …, 1 (1-based from the left)
    even = "".join(body[i] for i in range(13, -1, -2))  # positions 14, 12, …, 2
    joined = even + str(int(odd) * 2)
    total = sum(int(ch) for ch in joined)
    return (10 - total % 10) % 10


def control_digit(body: str) -> int:
    """The same digit as :func:`control_digit_by_steps`, computed the Luhn way (digit by digit)."""
    if len(body) != ENP_LENGTH - 1 or not body.isdigit():
        raise ValueError("the body of an ЕНП is 15 digits")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


@dataclass(frozen=True, slots=True)
class EnpCheck:
    """The outcome of :func:`validate`: the normalised number, or the reason (Russian) it is not one."""

    number: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def validate(value: str | None, *, check_digit: bool = True) -> EnpCheck:
    """Check a typed ЕНП: 16 digits, and (``check_digit``) a right control digit."""
    digits = normalise(value)
    if not digits:
        return EnpCheck(None, "Укажите номер полиса ОМС: 16 цифр.")
    if not digits.isdigit():
        return EnpCheck(None, "Номер полиса ОМС состоит только из цифр.")
    if len(digits) != ENP_LENGTH:
        return EnpCheck(None, f"Номер полиса ОМС состоит из 16 цифр, а введено {len(digits)}.")
    if check_digit and control_digit(digits[:-1]) != int(digits[-1]):
        return EnpCheck(None, "Номер полиса ОМС введён с ошибкой: не сходится контрольная цифра.")
    return EnpCheck(digits, None)


def with_control_digit(body: str) -> str:
    """A full ЕНП from its first 15 digits (the simulators and test builders make numbers with it)."""
    return body + str(control_digit(body))
