"""Forum threads: the posts of a thread, each in a numbered box of its own, and the names that
tell one post's box from a kind of box.

Layouts: vBulletin's and SMF's post boxes that are not siblings ("post_message_101", "msg_1"),
told apart only by the number in their id (numbered_posts); XenForo, Discourse, Invision,
phpBB 3, IP.Board 3 and MyBB, whose posts are sibling boxes of one tag and first class word
below the thread's title, each with its text in a box beside the poster's name
(thread_posts); forms wrapping a thread's posts (wraps_posts: XenForo 1, SMF). The body
module asks these after choosing the best box, and uses first_class / numbered to keep a
blog's other posts ("post-790 post" beside "post-812 post") out of the article.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from scraper.parse.dom import HtmlElement, class_id, contains, link_density, text_content

_DIGIT = re.compile(r"\d")


def numbered_posts(
    body: HtmlElement,
    top: HtmlElement,
    prune: Callable[[HtmlElement], bool],
    heading: HtmlElement | None = None,
) -> list[HtmlElement]:
    """Layout: forum threads whose posts each sit in a box of their own, in tables or boxes
    that are not siblings (vBulletin's "post_message_101", "td_post_101"), told apart only by
    the number in their id: the best post's box stands for all the thread's posts, in order.
    The numbered box may be the best box's only child (SMF: div.post > div.inner#msg_1).
    Only pages whose best box has such an id pay for the search."""
    key = top
    if not (top.get("id") or "")[-1:].isdigit() and len(top) == 1:
        key = top[0]  # (a comment or PI there has no id: the test below fails)
    ident = key.get("id") if isinstance(key.tag, str) else None
    if not ident or not ident[-1].isdigit() or key.tag == "article":
        return []
    if heading is not None and contains(key, heading):
        # Layout: WordPress names the post's own box "post-812"; a box holding the page's
        # headline is the article, not one post of a thread (related posts share the name)
        return []
    match = _NUMBERED_ID.match(ident)
    if match is None or not any(w in match.group(1).lower() for w in _POST_WORDS):
        return []
    prefix = match.group(1)
    posts = [
        el
        for el in body.iter(key.tag)
        if el is key
        or (
            (other := _NUMBERED_ID.match(el.get("id") or "")) is not None
            and other.group(1) == prefix
            and not prune(el)
        )
    ]
    return posts if len(posts) > 1 else []


_NUMBERED_ID = re.compile(r"^(\D+?)[_-]?\d+$")
_UNIT_LEVELS = 8  # how far above the text's box a thread's post box is looked for


def thread_posts(
    top: HtmlElement, heading: HtmlElement | None, prune: Callable[[HtmlElement], bool]
) -> list[HtmlElement]:
    """Layout: forum threads (XenForo, Discourse, Invision, phpBB 3): each post is a box of
    one tag and first class word, numbered in its id ("js-post-4410", "post_2", "p1234"),
    beside the other posts and below the thread's title; the post's text sits in a box of
    its own inside it, beside the poster's name (a link to the member's page), title and
    counts. The best post's text box and the box in the same place in every other post are
    the body, in order. A box holding the headline is the article's own (blog and news
    pages), never one post of several; a live blog's entries link to no member's page."""
    if heading is None:
        return []
    steps: list[tuple[object, str | None]] = []  # (tag, class) from the post down to top
    node = top
    for _ in range(_UNIT_LEVELS):
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html") or contains(node, heading):
            return []
        word = first_class(node)
        if steps and word and numbered(node):
            posts = [
                s for s in parent if s.tag == node.tag and first_class(s) == word and numbered(s)
            ]
            poster = _links_poster
            if len(posts) == 1 and _only_child(node, parent):
                posts, poster = _wrapped_posts(node, parent), _links_poster_or_post
            if len(posts) >= 2 and poster(node, top):
                return _post_texts(posts, steps, top, prune)
        steps.append((node.tag, class_id(node)[0]))
        node = parent
    return []


def _only_child(node: HtmlElement, parent: HtmlElement) -> bool:
    return sum(1 for c in parent if isinstance(c.tag, str)) == 1 and not (parent.text or "").strip()


def _wrapped_posts(node: HtmlElement, wrapper: HtmlElement) -> list[HtmlElement]:
    """Layout: WoltLab Burning Board (German forums) and other lists of posts that wrap each
    numbered post box in a list item of its own ("li > article#post88120.wbbPost"): the post
    boxes of the wrapper's siblings, each its wrapper's only child."""
    outer = wrapper.getparent()
    if outer is None:
        return [node]
    tag, word = node.tag, first_class(node)
    found = []
    for item in outer:
        if item.tag != wrapper.tag:
            continue
        inner = [c for c in item if isinstance(c.tag, str)]
        if (
            len(inner) == 1
            and inner[0].tag == tag
            and first_class(inner[0]) == word
            and numbered(inner[0])
        ):
            found.append(inner[0])
    return found


# a link to a member's page: forum software names it so ("/members/x.17/", "/u/x",
# "memberlist.php?mode=viewprofile", "/profile/88-x/", "member.php?u=1")
_POSTER_LINK = re.compile(r"member|user|profile|/u/", re.I)


def _links_poster(post: HtmlElement, text: HtmlElement) -> bool:
    """Does the post box link to its poster's page outside its text (what a forum post does
    and a live blog's entry does not)?"""
    return any(
        _POSTER_LINK.search(a.get("href") or "") is not None and not contains(text, a)
        for a in post.iter("a")
    )


def _links_poster_or_post(post: HtmlElement, text: HtmlElement) -> bool:
    """_links_poster, or a permalink to the post itself outside its text ("?postID=88120",
    "#post88120"): WoltLab's member pane is an <aside>, which the tree has lost by now."""
    if _links_poster(post, text):
        return True
    number = _DIGITS_END.search(class_id(post)[1] or "")
    if number is None:
        return False
    return any(
        "post" in (href := (a.get("href") or "").lower())
        and number.group() in href
        and not contains(text, a)
        for a in post.iter("a")
    )


_DIGITS_END = re.compile(r"\d+$")


def first_class(el: HtmlElement) -> str:
    """The first class word without a digit: what names a kind of box ("post" of "post-812
    post", "post" of "post bg2"), not one box."""
    cls = class_id(el)[0]
    if not cls:
        return ""
    return next((w for w in cls.split() if _DIGIT.search(w) is None), "")


def holds_post(el: HtmlElement, tag: object, word: str) -> bool:
    """Is el, or a box inside it, of this tag and first class word, with a numbered id?"""
    return posts_in(el, tag, word) > 0


def posts_in(el: HtmlElement, tag: object, word: str) -> int:
    return sum(1 for d in el.iter(tag) if first_class(d) == word and numbered(d))


def numbered(el: HtmlElement) -> bool:
    return (class_id(el)[1] or "")[-1:].isdigit()


def _post_texts(
    posts: list[HtmlElement],
    steps: list[tuple[object, str | None]],
    top: HtmlElement,
    prune: Callable[[HtmlElement], bool],
) -> list[HtmlElement]:
    """The box in each post at the place of `top` in its own (steps, from top up), when it
    holds text that is not mostly links."""
    found = []
    for post in posts:
        box: HtmlElement | None = post
        for tag, cls in reversed(steps):
            box = (
                next((c for c in box if c.tag == tag and class_id(c)[0] == cls), None)
                if box is not None
                else None
            )
        if box is top or (
            box is not None
            and not prune(box)
            and text_content(box).strip()
            and link_density(box) < 0.5
        ):
            found.append(box)
    return found if len(found) >= 2 and top in found else []


_POST_WORDS = ("post", "message", "msg", "beitrag")


def wraps_posts(el: HtmlElement) -> bool:
    """Layout: forums wrap a thread's posts in a <form> for moderation (XenForo 1's
    "InlineModForm" around `ol.messageList > li.message#post-88120`, SMF's "quickModForm"):
    two or more boxes of one tag whose ids number them as posts make it the thread's wrapper,
    not a form to leave out."""
    seen: set[tuple[object, str]] = set()
    for box in el.iter():
        match = _NUMBERED_ID.match(box.get("id") or "") if isinstance(box.tag, str) else None
        if match is None or not any(w in match.group(1).lower() for w in _POST_WORDS):
            continue
        key = (box.tag, match.group(1))
        if key in seen:
            return True
        seen.add(key)
    return False
