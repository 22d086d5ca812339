"""The pure rules of the insurance domain: when an insurer may be changed, and the answer deadline.

**326-ФЗ art. 16 ч. 2 п. 3** (Федеральный закон от 29.11.2010 № 326-ФЗ «Об обязательном медицинском
страховании в Российской Федерации»): the insured person may replace their insurer (СМО) «один раз в
течение календарного года не позднее 1 ноября либо чаще в случае изменения места жительства или
прекращения действия договора о финансовом обеспечении обязательного медицинского страхования», by an
application to the newly chosen insurer. :func:`insurer_change_decision` is that rule:

* a first choice (no insurer yet) is always allowed;
* a change of residence, or the current insurer's exit from the region's OMS (its contract ends), allows a
  change at any time ("чаще");
* otherwise (an ordinary change): not after 1 November (1 November itself is allowed: «не позднее»), and
  not if an ordinary change was already made (or is under review) this calendar year; the date it becomes
  possible is then 1 January of the next year.

Where the law is silent we chose: changes for a move or an insurer's exit do not use up the year's
ordinary change (they are the law's "more often" exceptions, not the yearly one).

**The answer deadline**: an appeal (обращение) to the insurer or the TFOMS is answered within 30 days of
its registration (59-ФЗ «О порядке рассмотрения обращений граждан Российской Федерации», art. 12 ч. 1);
:data:`ANSWER_DAYS`. The register's own due date is shown when it sends one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from integrations.erzl import ChangeReason

ANSWER_DAYS = 30
ANSWER_DEADLINE_SOURCE = "ст. 12 Федерального закона № 59-ФЗ «О порядке рассмотрения обращений граждан»"
ART16 = "ст. 16 Федерального закона № 326-ФЗ «Об обязательном медицинском страховании»"
LAST_MONTH_DAY = (11, 1)  # 1 November, inclusive


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    ALREADY_THIS_YEAR = "already_this_year"
    AFTER_NOVEMBER_1 = "after_november_1"
    INSURER_NOT_EXITING = "insurer_not_exiting"


@dataclass(frozen=True, slots=True)
class ChangeDecision:
    verdict: Verdict
    possible_from: date  # the first day the change is possible (today when allowed)

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED

    @property
    def message_ru(self) -> str:
        when = f"{self.possible_from:%d.%m.%Y}"
        if self.verdict is Verdict.ALREADY_THIS_YEAR:
            return (
                f"В этом году страховая компания уже заменена: следующая замена возможна с {when}, "
                f"раньше — только при смене места жительства ({ART16})."
            )
        if self.verdict is Verdict.AFTER_NOVEMBER_1:
            return (
                f"Заменить страховую компанию можно раз в год не позднее 1 ноября: следующая замена возможна с "
                f"{when}, раньше — только при смене места жительства ({ART16})."
            )
        if self.verdict is Verdict.INSURER_NOT_EXITING:
            return (
                "Ваша страховая компания не прекращает работу в ОМС региона. Замена возможна раз в год не позднее "
                f"1 ноября или при смене места жительства ({ART16})."
            )
        return "Замена страховой компании возможна."


def insurer_change_decision(
    today: date,
    reason: ChangeReason,
    *,
    ordinary_changes: Iterable[date] = (),
    insurer_exiting: bool = False,
) -> ChangeDecision:
    """Whether an insurer change for ``reason`` may be sent ``today`` (326-ФЗ art. 16 ч. 2 п. 3).

    ``ordinary_changes``: the days of the person's earlier ordinary changes (completed or under review);
    ``insurer_exiting``: the current insurer's OMS contract in the region ends.
    """
    if reason in (ChangeReason.FIRST_CHOICE, ChangeReason.CHANGE_OF_RESIDENCE):
        return ChangeDecision(Verdict.ALLOWED, today)
    if reason is ChangeReason.INSURER_EXIT:
        if insurer_exiting:
            return ChangeDecision(Verdict.ALLOWED, today)
        return ChangeDecision(Verdict.INSURER_NOT_EXITING, today)
    next_year = date(today.year + 1, 1, 1)
    if any(d.year == today.year for d in ordinary_changes):
        return ChangeDecision(Verdict.ALREADY_THIS_YEAR, next_year)
    if (today.month, today.day) > LAST_MONTH_DAY:
        return ChangeDecision(Verdict.AFTER_NOVEMBER_1, next_year)
    return ChangeDecision(Verdict.ALLOWED, today)


def answer_due(registered: date) -> date:
    """The last day of the answer to an appeal registered on ``registered`` (59-ФЗ art. 12 ч. 1)."""
    return registered + timedelta(days=ANSWER_DAYS)
