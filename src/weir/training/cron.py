"""Five-field cron expressions (minute hour day-of-month month day-of-week), UTC.

Fields take ``*``, numbers, ranges ``a-b``, lists ``a,b`` and steps ``*/n`` or ``a-b/n``; day of week is
0-6 with 0 = Sunday (7 also means Sunday). As in cron, when both day fields are restricted, a day matching
either one matches.

>>> from datetime import datetime, timezone
>>> Cron("30 2 * * 1").next_after(datetime(2026, 11, 26, tzinfo=timezone.utc)).isoformat()
'2026-11-30T02:30:00+00:00'
>>> Cron("*/15 * * * *").next_after(datetime(2026, 11, 26, 10, 7, tzinfo=timezone.utc)).minute
15
"""

from __future__ import annotations

from datetime import datetime, timedelta

from weir.errors import ValidationError

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


def _parse(text: str, name: str, low: int, high: int, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, stop = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, stop = int(a), int(b)
            else:
                start = stop = int(body)
        except ValueError:
            raise ValidationError(
                f"Cron {expression!r}: {name} field {text!r} is not a number, range or step."
            ) from None
        if step < 1 or not low <= start <= stop <= high:
            raise ValidationError(f"Cron {expression!r}: {name} field {text!r} must stay within {low}-{high}.")
        values.update(range(start, stop + 1, step))
    return frozenset(values)


class Cron:
    def __init__(self, expression: str) -> None:
        parts = str(expression).split()
        if len(parts) != 5:
            raise ValidationError(
                f"Cron {expression!r} needs 5 fields (minute hour day-of-month month day-of-week), e.g. '0 3 * * *'."
            )
        self.expression = expression
        fields = [_parse(p, *spec, expression) for p, spec in zip(parts, _FIELDS, strict=True)]
        self.minutes, self.hours, self.days, self.months, weekdays = fields
        self.weekdays = frozenset(d % 7 for d in weekdays)
        # as in Vixie cron, a day field starting with '*' (also '*/2') counts as unrestricted
        self.any_day, self.any_weekday = parts[2].startswith("*"), parts[4].startswith("*")

    def _day_matches(self, when: datetime) -> bool:
        day, weekday = when.day in self.days, (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday

    def next_after(self, when: datetime) -> datetime:
        """The first matching minute strictly after ``when`` (aware, UTC)."""
        t = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        horizon = t + timedelta(days=366 * 28)  # 28 years: every weekday and leap-year combination
        while t < horizon:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise ValidationError(f"Cron {self.expression!r} never matches (e.g. February 30th); fix the day fields.")
