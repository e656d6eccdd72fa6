"""Pages of teasers (front pages, section listings): not articles, but their teasers are the
page's main text, given with the refusal.

Layout: three or more boxes of one tag and first class word side by side (or <article>s,
<li>s), the best of which is, or holds, the chosen box.
"""

from __future__ import annotations

from scraper.parse.body import Choice
from scraper.parse.boilerplate import is_boilerplate
from scraper.parse.dom import HtmlElement
from scraper.parse.threads import first_class

_LISTED = 3  # boxes of one kind side by side that make a listing


def listing_teasers(choice: Choice) -> Choice | None:
    """Layout: front pages and listings (not articles): teasers in boxes of one tag and class
    side by side, the best of which is (or holds) the chosen box. All of them are the page's
    main text, in order (or the teasers are the chosen box's children); None when there are
    no such teasers."""
    kinds: dict[tuple[object, str], list[HtmlElement]] = {}
    for child in choice.top:
        word = first_class(child) if isinstance(child.tag, str) else ""
        if word or child.tag in ("article", "li"):
            kinds.setdefault((child.tag, word), []).append(child)
    teasers = max(kinds.values(), key=len, default=[])
    if len(teasers) >= _LISTED:
        # (with what else the box holds that is not furniture: a welcome line, a heading)
        chosen = [
            c
            for c in choice.top
            if isinstance(c.tag, str) and (c in teasers or not is_boilerplate(c))
        ]
        return Choice(
            choice.top, chosen, choice.blocks, choice.wrappers, choice.by_tags, choice.comments
        )
    node = choice.top
    for _ in range(4):
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html"):
            return None
        word = first_class(node)
        kind = [s for s in parent if s.tag == node.tag and first_class(s) == word]
        if len(kind) >= _LISTED and (word or node.tag in ("article", "li")):
            return Choice(
                node, kind, choice.blocks, choice.wrappers, choice.by_tags, choice.comments
            )
        node = parent
    return None
