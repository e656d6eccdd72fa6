"""The page's declared language, as a BCP 47 tag ("en-US", "pt-BR", "zh-Hant-TW").

Sources, most specific first (the first one holding a usable tag wins):
1. `<html lang>`, then `<html xml:lang>` (XHTML pages);
2. `<meta http-equiv="Content-Language">` (old table layouts and early CMSs, often the only
   declaration such pages make);
3. `<meta name="language">`, `<meta name="content-language">`, Dublin Core's `dc.language`;
4. OpenGraph's `og:locale` ("en_US");
5. the JSON-LD article's `inLanguage`.

Normalised to BCP 47 case (language lower, script title, region upper: "EN_us" -> "en-US");
a comma list gives its first tag ("de, en"); variants and extensions are dropped. Junk is
skipped, so the next source can answer: unfilled template placeholders ("{{lang}}"),
hreflang's "x-default", private use tags ("x-…", "i-…"), "und", words ("none", "null").
Old sites that name their language in English or in itself ("English", "Deutsch") get its
two-letter code. A page that declares nothing has no language: guessing it from the text with
py3langid costs about an eighth of a page's parse CPU even on its first 600 characters
(measured on the dev corpus), too much for the hot path.
"""

from __future__ import annotations

import re

from scraper.parse.structured import Structured, as_text

# language [-script] [-region], case-insensitive; the rest (variants, extensions) is dropped
_TAG = re.compile(r"([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|\d{3}))?(?:-[a-z\d]{1,8})*")
# codes that say "no language given" rather than naming one
_NOT_A_LANGUAGE = frozenset(("und", "mis", "zxx", "mul", "xxx"))
# languages named as words on old sites (<meta name="language" content="English">)
_NAMES = {
    "english": "en",
    "german": "de",
    "deutsch": "de",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "italian": "it",
    "italiano": "it",
    "dutch": "nl",
    "nederlands": "nl",
    "portuguese": "pt",
    "português": "pt",
    "portugues": "pt",
    "russian": "ru",
    "polish": "pl",
    "polski": "pl",
    "swedish": "sv",
    "svenska": "sv",
    "danish": "da",
    "dansk": "da",
    "norwegian": "no",
    "norsk": "no",
    "finnish": "fi",
    "suomi": "fi",
    "czech": "cs",
    "turkish": "tr",
    "türkçe": "tr",
    "greek": "el",
    "japanese": "ja",
    "chinese": "zh",
    "korean": "ko",
    "arabic": "ar",
    "hebrew": "he",
}
# <meta> names of step 3, in order
_META_NAMES = ("language", "content-language", "dc.language")


def normalise(value: str | None) -> str | None:
    """A declared language as a BCP 47 tag, or None when it names none."""
    if not value:
        return None
    first = re.split(r"[,;\s]+", value.strip().lower().replace("_", "-"), maxsplit=1)[0]
    if first in _NAMES:
        return _NAMES[first]
    match = _TAG.fullmatch(first)
    if match is None or match.group(1) in _NOT_A_LANGUAGE:
        return None
    language, script, region = match.groups()
    tag = language
    if script:
        tag += "-" + script.title()
    if region:
        tag += "-" + region.upper()
    return tag


def _candidates(st: Structured) -> list[tuple[str | None, str]]:
    """Every declaration of the page with its source, most specific first."""
    found: list[tuple[str | None, str]] = [(st.lang, "html"), (st.xml_lang, "html")]
    found += [(v, "meta") for v in st.meta.get("http-equiv:content-language", ())]
    for name in _META_NAMES:
        found += [(v, "meta") for v in st.meta.get(name, ())]
    found += [(v, "meta") for v in st.meta.get("og:locale", ())]
    if st.article is not None:
        found.append((as_text(st.article.get("inLanguage")), "json-ld"))
    return found


def declared_language(st: Structured) -> tuple[str | None, str | None]:
    """(tag, source) of the page's first usable language declaration."""
    for value, source in _candidates(st):
        tag = normalise(value)
        if tag:
            return tag, source
    return None, None


def declared_locale(st: Structured) -> str | None:
    """The declared language with a region where any source gives one for it: templates write
    `lang="en"` and leave the country to og:locale ("en_GB") or Content-Language ("en-GB").
    The first source with a region wins; a region given for another language is not taken."""
    tags = [t for t in (normalise(v) for v, _ in _candidates(st)) if t]
    if not tags:
        return None
    language = tags[0].split("-")[0]
    if tags[0] != language:
        return tags[0]
    return next((t for t in tags[1:] if t.split("-")[0] == language and t != language), language)
