"""Read one date out of a string: ISO 8601, RFC 2822, and the ways pages write dates for
people ("Nov. 19, 2019 9:07 pm EST", "19 novembre 2019", "19.11.2019").

A `PageDate` keeps exactly what the string says: a day; a day and a time; or a day, a time and
an offset. Nothing is invented: no midnight for a bare day, no UTC for a local time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

_MONTHS: dict[str, int] = {}
# Month names and their abbreviations: English, French, German, Spanish, Italian, Portuguese,
# Dutch, Russian; then Polish, Czech, Ukrainian, Scandinavian and Turkish (genitive forms too:
# "12 lipca 2017", "12. července 2017") and the short forms es/it/pt/fr/nl pages write
# ("12 ago 2017", "5 mrt. 2021", "3 out. 2019").
for _number, _names in enumerate(
    (
        "jan january janvier januar enero gennaio janeiro januari janv ene gen января январь янв "
        "styczeń stycznia leden ledna січня січень ocak",
        "feb february fevrier février februar febrero febbraio fevereiro februari févr fév febr "
        "февраля февраль фев fev luty lutego únor února лютого лютий şubat",
        "mar march mars märz maerz marzo março maart mär марта март мар mrt mrz marts "
        "marzec marca březen března березня березень",
        "apr april avril abril aprile апреля апрель апр abr avr kwiecień kwietnia duben dubna "
        "квітня квітень nisan",
        "may mai mayo maggio maio mei мая май mag maj maja květen května травня травень "
        "may\u0131s mayis",
        "jun june juin juni junio giugno junho июня июнь июн giu czerwiec czerwca červen června "
        "червня червень haziran",
        "jul july juillet juli julio luglio julho juil июля июль июл lug lipiec lipca červenec "
        "července липня липень temmuz",
        "aug august août aout agosto augustus августа август авг ago augusti sierpień sierpnia "
        "srpen srpna серпня серпень ağustos",
        "sep sept september septembre septiembre settembre setembro сентября сентябрь сен set "
        "wrzesień września září вересня вересень eylül",
        "oct october octobre oktober octubre ottobre outubro okt октября октябрь окт ott out "
        "październik października říjen října жовтня жовтень ekim",
        "nov november novembre noviembre novembro ноября ноябрь ноя listopad listopada listopadu "
        "листопада листопад kas\u0131m kasim",
        "dec december décembre decembre dezember diciembre dicembre dezembro dez dic "
        "декабря декабрь дек desember grudzień grudnia prosinec prosince грудня грудень "
        "aral\u0131k aralik",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _number)

MONTH_NAMES = frozenset(_MONTHS)
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ISO = re.compile(
    r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2}(?!\d))?)?"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?(Z|[+-]\d{4})?$")
_SLASHED_YMD = re.compile(
    r"(?<!\d)(\d{4})\s*(?:[/.]|年)\s*(\d{1,2})\s*(?:[/.]|月)\s*(\d{1,2})(?:日|(?!\d))"
)
_NUMERIC_DMY = re.compile(r"(?<![\d/.])(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?!\d)")
# Layout: German forums, blogs and regional news write "03.05.21, 10:00" ("Erstellt: ..."):
# day and month of two digits, dotted, a two-digit year (read as 20yy).
_DOTTED_SHORT = re.compile(r"(?<![\d/.])(\d{2})\.(\d{2})\.(\d{2})(?![\d.])")
# Month-name dates match any word of 3-10 letters where the month goes, then the word is looked
# up in _MONTHS: a regex alternation of all 129 names costs ~20 us a line, this ~2 us.
# Every date with a year needs one _make accepts (1990-2100): text without one skips them all.
_YEARISH = re.compile(r"199\d|20\d\d|2100")
_MDY = re.compile(r"\b([^\W\d_]{3,12})\.?\s+(\d{1,2})(?:st|nd|rd|th)?\.?,?\s+(\d{4})(?!\d)", re.I)
_DMY = re.compile(
    r"(?<!\d)(\d{1,2})(?:st|nd|rd|th|er|º)?\.?\s*(?:de\s+|of\s+)?([^\W\d_]{3,12})\.?,?\s+"
    r"(?:de\s+)?(\d{4})(?!\d)",
    re.I,
)
_MD_NOYEAR = re.compile(
    rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*,?\s*\d{{4}})", re.I
)
_TIME = re.compile(
    r"^\D{0,12}?(\d{1,2})[:.h](\d{2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)?\s*"
    r"(\(?(?:[A-Z]{2,5}|GMT[+-]\d{1,2}|UTC[+-]\d{1,2})\)?)?",
    re.I,
)
_ZONES = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 60,
    "IST": 330,
    "CET": 60,
    "CEST": 120,
    "MEZ": 60,
    "MESZ": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "AKST": -540,
    "AKDT": -480,
    "HST": -600,
    "JST": 540,
    "KST": 540,
    "HKT": 480,
    "SGT": 480,
    "AEST": 600,
    "AEDT": 660,
    "ACST": 570,
    "AWST": 480,
    "NZST": 720,
    "NZDT": 780,
    "PKT": 300,
    "WIB": 420,
    "ICT": 420,
    "SAST": 120,
    "WAT": 60,
    "EAT": 180,
}
_RFC2822 = re.compile(
    r"(?:\w{3},\s*)?(\d{1,2})\s+(\w{3})\s+(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|GMT|UTC|[A-Z]{3})?"
)


@dataclass(frozen=True, slots=True)
class PageDate:
    """A date as a page states it: day always; time and offset (minutes) only if given."""

    day: date
    time: tuple[int, int, int] | None = None
    offset: int | None = None  # minutes east of UTC
    # read from digits that fit either order ("06-11-2019"): the page's other dates may say
    # which it writes (dates.find_dates)
    ambiguous: bool = field(default=False, compare=False)

    def iso(self) -> str:
        if self.time is None:
            return self.day.isoformat()
        h, m, s = self.time
        moment = datetime(self.day.year, self.day.month, self.day.day, h, m, s)
        if self.offset is None:
            return moment.isoformat()
        zone = timezone(timedelta(minutes=self.offset))
        text = moment.replace(tzinfo=zone).isoformat()
        return text.replace("+00:00", "Z") if self.offset == 0 else text

    def instant(self) -> datetime | None:
        """The UTC moment, when time and offset are both known."""
        if self.time is None or self.offset is None:
            return None
        zone = timezone(timedelta(minutes=self.offset))
        h, m, s = self.time
        return datetime(self.day.year, self.day.month, self.day.day, h, m, s, tzinfo=zone)

    def at_offset(self, minutes: int) -> PageDate:
        moment = self.instant()
        if moment is None:
            return self
        local = moment.astimezone(timezone(timedelta(minutes=minutes)))
        return PageDate(local.date(), (local.hour, local.minute, local.second), minutes)


def _offset(text: str | None) -> int | None:
    if not text:
        return None
    text = text.strip("() ").upper()
    if text in _ZONES:
        return _ZONES[text]
    match = re.fullmatch(r"(?:GMT|UTC)?([+-])(\d{1,2}):?(\d{2})?", text)
    if not match:
        return None
    minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
    if minutes > 14 * 60:
        return None
    return -minutes if match.group(1) == "-" else minutes


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day) if 1990 <= year <= 2100 else None
    except ValueError:
        return None


def _time_after(text: str) -> tuple[tuple[int, int, int] | None, int | None]:
    match = _TIME.match(text)
    if not match:
        return None, None
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    ampm = (match.group(4) or "").replace(".", "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None, None
    return (hour, minute, second), _offset(match.group(5))


def parse_iso(text: str) -> PageDate | None:
    """An ISO 8601 / compact / RFC 2822 machine date, or None."""
    text = text.strip()
    match = _ISO.search(text) or _COMPACT.match(text)
    if match:
        day = _make(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if day is None:
            return None
        if match.group(4) is None:
            return PageDate(day)
        hour, minute = int(match.group(4)), int(match.group(5))
        second = int(match.group(6) or 0)
        if hour > 23 or minute > 59 or second > 59:
            return PageDate(day)
        return PageDate(day, (hour, minute, second), _offset(match.group(7)))
    match = _RFC2822.search(text)
    if match and match.group(2).lower() in _MONTHS:
        day = _make(int(match.group(3)), _MONTHS[match.group(2).lower()], int(match.group(1)))
        if day:
            hms = (int(match.group(4)), int(match.group(5)), int(match.group(6) or 0))
            return PageDate(day, hms, _offset(match.group(7)))
    return None


def parse_human(text: str, *, month_first: bool = True, year: int | None = None) -> PageDate | None:
    """The first date written for people in text, with its time and zone when they follow.
    With `year`, a day written without one ("Posted Nov 18, 8:19 PM") is read in that year."""
    best: tuple[int, date, int] | None = None  # (position, day, end)
    has_year = _YEARISH.search(text) is not None
    either = False  # the best is digits that fit either order
    for pattern, order in ((_MDY, "mdy"), (_DMY, "dmy")) if has_year else ():
        group = 1 if order == "mdy" else 2
        match = next((m for m in pattern.finditer(text) if m.group(group).lower() in _MONTHS), None)
        if not match or (best and match.start() >= best[0]):
            continue
        if order == "mdy":
            month, day_n, year_n = _MONTHS[match.group(1).lower()], match.group(2), match.group(3)
        else:
            day_n, month, year_n = match.group(1), _MONTHS[match.group(2).lower()], match.group(3)
        day = _make(int(year_n), month, int(day_n))
        if day:
            best = (match.start(), day, match.end())
    for pattern in (_SLASHED_YMD, _NUMERIC_DMY) if has_year else ():
        match = pattern.search(text)
        if not match or (best and match.start() >= best[0]):
            continue
        a, b, c = (int(g) for g in match.groups())
        if pattern is _SLASHED_YMD:
            day = _make(a, b, c)
        elif a > 12 or ((not month_first or text[match.end(1)] == ".") and b <= 12):
            # "03.05.2022": dotted numeric dates are day first wherever they are written
            day = _make(c, b, a)
        else:
            day = _make(c, a, b) or _make(c, b, a)
        if day:
            best = (match.start(), day, match.end())
            # (the numeric patterns run last: a later one that wins is the best)
            either = pattern is _NUMERIC_DMY and a != b and a <= 12 and b <= 12
            either = either and text[match.end(1)] != "."
    if best is None and year is not None and len(text) <= 40:
        match = _MD_NOYEAR.search(text)
        if match:
            day = _make(year, _MONTHS[match.group(1).lower()], int(match.group(2)))
            if day:
                best = (match.start(), day, match.end())
    if best is None and not has_year and "." in text:
        match = _DOTTED_SHORT.search(text)
        if match:
            day = _make(2000 + int(match.group(3)), int(match.group(2)), int(match.group(1)))
            if day:
                best = (match.start(), day, match.end())
    if best is None:
        return parse_iso(text) if has_year else None
    _, day, end = best
    hms, offset = _time_after(text[end : end + 40])
    if hms is None:
        # "9:07 pm EST Nov 19, 2019": a time written before the date.
        before = re.search(
            r"(\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?\s*[A-Z]{0,5})\W{0,4}(?:\w+day\W{0,3})?$",
            text[: best[0]],
            re.I,
        )
        if before:
            hms, offset = _time_after(before.group(1))
    return PageDate(day, hms, offset if hms else None, either)
