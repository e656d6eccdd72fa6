"""The article parser: page bytes in, `Content` out (or `NotAnArticle` / `ParseError`).

    parse_page(page, rules=None) -> Content     # a fetched RawPage; no date after its fetch
    parse_html(html, url, content_type=None, rules=None) -> Content

Pure functions: no I/O, no state between calls (the only module-level objects are compiled
patterns, memo caches of pure helpers, and the ContextVar through which one extraction's
helpers read its page's attribute tables, set and reset within the call: dom.page_classes). Any
input bytes give a `Content` or one of the two parser errors; any other exception inside is a
bug and is reported as `ParseError` rather than escaping. Modules: charset (bytes -> text), dom
(the lxml tree), structured (JSON-LD, meta, microdata), headline, datetext + dates, authors,
boilerplate (furniture by class words), segment (text blocks), body (container choice and
extraction), threads (forum posts in numbered boxes), listing (pages of teasers), captions,
language (the declared language), fields, rules (per-site overrides), extract (the order they
run in), score_adapter (the corpus scorer's hook).

Rules and the layouts they are for (each has a test in tests/test_parse_layouts.py,
tests/test_parse_bs4.py or tests/test_parse_language.py, and pages of the layout under
tests/pages/web):
- headline: the visible heading that agrees with a metadata title; old table layouts with no
  heading and a "Site :: Headline" `<title>`: the part not spelled by the host, else the part
  shown last on the page (mastheads come first), else the one part shown in big bold type
  (image mastheads) or the part that is not the masthead's link home; Blogger's classic
  templates (site name in the <h1>, the post's title in an <h3 class="post-title">): an <h3>
  that agrees with the metadata when no <h1>/<h2> does; old table layouts titled with the
  site's and section's names only ("TV Talheim - Neuigkeiten"): the big bold line opening the
  text, and the headline with its date on one line is not body.
- title: JSON-LD headline, og:title, twitter:title, `<title>`, verbatim.
- language: the first usable declaration of `<html lang>`, `xml:lang` (XHTML), `<meta
  http-equiv="Content-Language">` (old table layouts and early CMSs declare only this),
  `<meta name="language">` / "content-language" / DC.language (named as a word on old sites:
  "English"), og:locale, JSON-LD inLanguage; as BCP 47 ("en-us", "en_US" -> "en-US", "de, en"
  -> "de"); template placeholders and "x-default" are skipped (language.py).
- dates: structured data first; text dates near the headline in many languages ("12. Juli
  2017"; dotted numerals "03.05.2022" are day first everywhere; dashed and slashed ones
  "06-11-2019" month first on pages declaring US English (`lang="en-US"` or "en", og:locale
  "en_US", old US table layouts' only declaration `<meta http-equiv="Content-Language"
  content="en-us">`; a region for the same language from any declaration counts: lang="en"
  with og:locale "en_GB" is British) and day first elsewhere, unless the page's other
  numeric dates force the other order with a slot over 12: "06-13-2019" on a page declaring
  nothing, "13/06/2019" under a template's lang="en-US"); a dateline opening the first
  paragraph (agency copy, press releases); boxes around the headline are never teasers
  (Blogger's "widget"); forum members' join dates are not the post's; "Updated" lines are the
  modified date, never the published one, and a line naming the update first and then the
  publication ("Zuletzt aktualisiert: 07.03.2019 | Veröffentlicht: 05.03.2019") gives the
  published date after its word; blog themes that write the date below the post
  (a <footer> or "entry-footer" child of the post's box, WordPress "entry-meta", Joomla's
  "article-info" list, a line of its own after the text) give it there, when nothing above
  does and the URL holds none; a JSON-LD WebPage's date stands for an Article object without
  one (Yoast-style @graph); German "03.05.21" (dotted, two-digit year) is a date; more
  <meta> names for the same date ("publication_date", "date_published", Shareaholic's);
  calendar badges of blog themes (day, month and year in elements of their own, run
  together as "12Jul2017") are read apart, as are <time> texts with no space between year
  and time ("Nov 20 20194:29 AM EST"), and badges with the time between day and year
  ("November 20 | 15:23 | 2019"); update and member-since words in more languages
  (Russian, Spanish, French, Italian, Portuguese, Dutch: phpBB's "Зарегистрирован", K2's
  "Ultima modifica"); a line naming the publication first and an update after it ("Publié
  le … - Mis à jour le …") gives the update as the modified date; CMSs that name the date's
  box in one word ("itemDateCreated", "newsdate", "publishDate"); wikis (MediaWiki's
  "footer-info-lastmod", DokuWiki's "docInfo"): the revision's date, when the page has no
  other; club sites and old CMSs with "Veröffentlicht am …" anywhere in the post's box
  (after a long lead, between parts): the first short line whose publishing word comes
  before its date, when nothing else dates the page; a finished sentence of 15+ words
  opening the text ("La cooperativa nació el 3 de mayo de 1998, cuando …") is no date line
  (evergreen pages get none); month names of Polish, Czech, Ukrainian, Scandinavian and
  Turkish pages and the short forms es/it/pt/fr/nl write ("12 ago 2017", "5 mrt. 2021"), and
  their words for an update and for publishing ("Aktualizacja:", "Opublikowano"); WordPress
  themes and hAtom that write both dates as elements named for them (`<time class=updated>`
  before `<time class="entry-date published">`; "published updated" is the publication) and
  a date element right after the word for an update in its line are the update; an update
  shown the day after the machine's publication date is a later edit and never moves that
  date to its day; a list of other stories above the headline or outside the article's area
  (a ticker, "top stories", a column of the latest news that no class word names: the date's
  closest box holding links holds one or two, one a story's title of four words or more)
  dates nothing, there or past the body's end among the headline's surroundings; relative times
  ("vor 3 Tagen", "Wednesday at 10:15 AM") are never worked out from the fetch time, but a
  date-named element showing one gives the date its attributes hold (XenForo 1's
  data-datestring / data-time, title tooltips);
  forums' member facts as <dt>/<dd> pairs ("Registriert seit:") are no post dates; pages
  whose headline is no element (a `<title>` and a headline drawn as an image): the short
  lines just above the text's box, when nothing else dates the page; a sentence of the text
  naming a day ("Die Brücke wurde am 3. Mai 1998 eröffnet.": five words or more besides the
  date, no byline, no word for publishing or an update) dates nothing, among short paragraphs
  near the headline or below the text; Drupal's "submitted", jQuery's "timeago" and
  "newstime"-style names are date boxes; a shop's customer reviews and
  readers' comments date nothing ("spr-reviews", "kundenbewertungen", each review or comment
  an <article class="review"> / "comment-body" of its own, or a short box read whole around
  them). htmldate 1.11 was
  measured as the fallback where none of these finds a date, and not adopted: on the 105
  tuning pages of dev and the 61 web goldens it found no right date these rules miss, and it
  gave a date to pages that show none (1 in its default mode, 4 with extensive search, which
  also costs ~41 ms a page).
- body: <br><br> runs and <div> runs count their links per part; short lines at the edges of
  containers without <p> (byline, place-and-date line, crumbs, a lone link) are furniture;
  forum member boxes are furniture; a box named only "meta" holding a paragraph is text (shop
  pages); data tables are read a row at a time; a line opening with a word furniture also
  uses ("Share prices fell ...", "Published in 1998, ...", "By Christmas, ...") is prose
  when it reads as a finished sentence of eight words or more, and so is a sentence with a
  date and "von"/"by" in it that does not open with a byline's words (any prose); WordPress
  "This entry was posted in ..." / "Dieser Beitrag wurde ..." lines and Joomla's
  "article-info" box are furniture; a <form> around the whole page (ASP.NET WebForms: under
  <body>, or around the <h1>) is a wrapper, not a form; a box around the headline that only
  its class words call furniture ("container layout-with-sidebar", "has-sidebar") is the
  page's wrapper, never pruned; page builders' widgets ("elementor-widget-container") are
  furniture only by their other words ("elementor-widget-share-buttons"); what lies between
  two parts of the text taken as siblings (a few subheadings, lists, quotes, unnamed
  <div>s; not furniture, not mostly links, not a byline with its date) is text; an unnamed
  <div> with no blocks inside reads like a paragraph (text in <div>s without <p>); German
  class words name the text's box ("artikel", "inhalt", "beitrag") and furniture
  ("anzeige", "werbung", "teilen", "kommentare", "randspalte"); kickers ("dachzeile",
  "kicker", "eyebrow"), ad labels and "Mehr zum Thema" / "Lesen Sie auch" lines are
  furniture; WordPress's "tag-…" and "category-…" classes (the author's words, a
  post tagged "social media") say nothing about a box; a newsletter named in prose is text
  (the boxes offering one say "sign up", "subscribe", "inbox", "get our newsletter"); a
  list of three or more items without links right beside the text's box is text (recipes'
  ingredients beside the steps, product features), and a list that is the best container
  alone under its subheading in a box stands for that box (a recipe's steps); forum posts
  in boxes of their own that are not siblings (vBulletin's tables, "post_message_101"): the
  best post's box, named for a post with a number (or its only child, SMF's "msg_1"),
  stands for every box of that name; when
  the text's box is named like furniture ("video-player-page", "widget-area") and has no
  paragraphs to clear it, so that under 300 characters are left (a notice, a teaser, or
  nothing), the page is read again pruning only by tags and comment boxes (class words may
  raise a box's score, not lower it; furniture-named boxes holding 300 characters or more
  are read), and that body is kept when it is at least three times as long (and 500
  characters or more); pages with a first body under 500 characters (a teaser, a subtitle)
  are read again so, and on pages that call themselves articles a first body under 150
  characters (a notice such as "Embed code copied", or nothing) gives way to a second body
  three times as long however short, so that the meta description never wins over text;
  forum threads whose posts are numbered boxes of one tag and class word below the thread's
  title (XenForo, Discourse, Invision, phpBB 3, IP.Board 3, MyBB): the best post's text box
  and the box in the same place in every other post, not the member boxes beside them (this
  before a post box numbered alone stands for the others, so whole posts with their member
  boxes are not taken); a <form> holding two or more boxes numbered as posts is the thread's
  wrapper, not a form (XenForo 1's "InlineModForm" around `ol.messageList > li.message`, SMF's
  "quickModForm"); a post's text written in a <blockquote> alone in its box (XenForo 1's
  "messageText", vBulletin 4's "postcontent") is paragraphs, not a quotation; a numbered box holding
  the headline is the article's own (WordPress "post-812 post"), and boxes named as it
  elsewhere are other posts ("More from ..."), neither its siblings nor its alternatives;
  text folded into a hidden box (style="display:none", hidden: "Read more", collapsed
  sections) with two or more paragraphs of prose is read; an articleBody given as HTML in
  JSON-LD (pages built by script with only a teaser in the DOM) is read as markup; a line of
  short parts with a date ("Name | Place | 14 de septiembre de 2022") above the text is a
  byline, and a subheading above it does not end the text's edge; ad slots' labels as lines
  of their own in many languages ("Advertisement", "- Anzeige -", "Publicidad", "Pubblicità",
  "Реклама", "Story continues below advertisement", "Weiterlesen nach der Anzeige") and ad
  boxes named "adv" or "reklama" are furniture; so is a short line with a date and a
  publishing or update word in the site's language (club sites' "Veröffentlicht am
  03.05.2022 | Ressort: …", Joomla's "Zuletzt aktualisiert: …", K2's "Ultima modifica il
  …", "Stand: …", "Publié le …", "Опубликовано …"), unless it is a finished sentence; a
  finished sentence of ten words or more using a newsletter box's words ("subscribe",
  "inbox", "sign up") without speaking to the reader (no "you", "our", "here", no verb
  opening it) is text; phpBB 2's poster cells and "Posted" lines (spans named
  "postdetails" in cells of their own) are furniture, and a row of column heads (<th>
  only) above a row holding tables of its own is the layout's ("Author | Message"); shop pages'
  review boxes ("reviews", "spr-reviews", "bewertungen", "kundenbewertungen") are furniture
  even inside a box named "content"; a post's own footer ("post-footer") and Blogger's
  "Eingestellt von … um …" line are furniture; grids of three or more teaser cards of one
  tag and class (each a linked picture to another page with under 250 characters of text:
  "Most popular", "You may also like" boxes named by no class word) and a pager's numbers
  ("1 2 3 4") are furniture; a lead box named like a teaser ("news-teaser", "intro")
  right before the text's box, a finished sentence or more with no links or pictures,
  opens the text; WoltLab's posts, each numbered box wrapped alone in a list item (its
  member pane an <aside>), are a thread's posts (a permalink to the post stands for the
  link to the poster); "read also" lines in more languages ("Lea también", "Lire aussi",
  "Leggi anche", "Читайте также"), photo credits as lines of their own ("Foto: …", "Фото:
  …") and blog themes' reading-time and read-aloud lines ("Lesezeit: 3 Minuten", "5 min
  read", "Artikel vorlesen") and share bars' labels in other languages ("Artikel teilen",
  "Compartir en", "Partager sur", "Поделиться"), German blogs' picture credits
  ("Beitragsbild: …", "Bildquelle: …") and tag lines in other languages ("Schlagworte: …",
  "Etiquetas: …") are furniture; a partner's or sponsor's box set into the text (a logo and
  "Mit freundlicher Unterstützung der …"; named "partner", "sponsor", "promo", "presented-by")
  is furniture when it holds under 200 characters, and read when longer (syndicated stories
  in a "partner-content" box).
- standfirst: a box named for one near the headline ("standfirst", "dek", "summary", not
  inside a shop's reviews box); else an <h2> or <h3> of six words or more right after the
  <h1> (news and blog themes' unnamed subtitles), which is then not body.
- authors: JSON-LD, <meta>, microdata, then bylines in the page; a byline line of short
  parts split by "|", "·", "•", dashes or line breaks, one part opening with a byline word
  ("By", "Von", "Por", "Par", "Di", "Door", "Av", "Автор:", "Текст:"), gives that part's
  names only, never the date, place or desk in the others ("By Jane Doe and John Roe | Des
  Moines, Iowa"; "Par Claire Vautrin Publié le …"); old table layouts set it in <font>, <b>
  or <i> ("<font><b>By Dale Emmons</b> | 06-11-2019</font>"; read when nothing else names a
  writer); a byline word alone in its box ("<p><strong>By</strong> Jane Doe | …") stands for
  the line it opens; prose opening with the word ("By 2030 the city will …") and dates name
  nobody.
- pages that are not articles (their main text goes with the refusal): a listing's teasers
  (three or more boxes of one tag and class side by side: front pages) are all of it; a
  thread whose every post sits in a box named for comments (Invision's "comments" area)
  gives the comments when nothing else is readable.
- captions: a caption outside a <figure> needs a picture (in its box, beside it, or a box
  named for one: lazy-loading placeholders); a paragraph named for picture and text after an
  image paragraph is its caption (portal layouts); a picture of the writer (byline and
  author boxes: "author", "avatar", "headshot") is no figure, nor is a social post embedded
  in the text ("social-embed", tweet fallbacks) or an ad slot in any of several languages
  ("werbung", "publicidad"; "Anzeige" alone is no caption); related-story cards embedded in
  the text (picture and whole caption linking to one other page, or the whole card one
  link) are no figures, while a picture linked to its source whose caption credits it there
  is; a caption and its credit in sibling inline boxes with no space between them are kept
  out of the body as one run; newsletter, subscription, sponsor and partner boxes (a
  picture and a line of their own) and figures inside an author box are no figures.
- bytes and trees: mixed UTF-8/cp1252 bytes are repaired by bs4's detwingle; a page libxml2
  lost part of (nesting deeper than 256, dropped paragraphs) is parsed again by bs4
  (lxml.html.soupparser). Neither runs on ordinary pages.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from datetime import datetime

from lxml import etree

from archive.record import Content, RawPage
from scraper.config import SiteRules
from scraper.errors import ParseError
from scraper.parse.extract import PARSER_NAME, PARSER_REVISION, PARSER_VERSION, extract

log = logging.getLogger(__name__)

__all__ = ["PARSER_NAME", "PARSER_REVISION", "PARSER_VERSION", "parse_html", "parse_page"]


def parse_html(
    html: bytes,
    url: str | None,
    *,
    content_type: str | None = None,
    rules: SiteRules | None = None,
    now: datetime | None = None,
    on_tree: Callable[[etree._Element], None] | None = None,
) -> Content:
    """Extract the article from page bytes. `now` (the fetch time) refuses future dates.

    `on_tree(root)` is called, before any cleaning, with the tree that
    `lxml.html.document_fromstring` makes of the page's text as `charset.decode_html` decodes
    it with no Content-Type (what `scraper.crawl.discover.page_hrefs` reads the links from),
    when the parse has that very tree; else it is not called (the caller parses for itself)."""
    # The parser makes no reference cycles on ordinary pages, but it makes many short-lived
    # objects a page, and the cyclic collector's young-generation passes over them cost ~5 %.
    # It is paused for the call (and left alone when the caller turned it off); what a page
    # leaves cyclic (bs4's re-parse) is collected after.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return extract(html, url, content_type=content_type, rules=rules, now=now, on_tree=on_tree)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(url, "page nested too deeply to parse") from None
    except Exception as exc:  # a parser bug must not take the crawl down with it
        # one line at WARNING (the CLI shows no tracebacks); the traceback itself at DEBUG (-vv)
        log.warning("parser failed on %s: %r", url, exc)
        log.debug("parser failure on %s", url, exc_info=True)
        raise ParseError(url, f"parser failure: {exc.__class__.__name__}: {exc}") from None
    finally:
        if paused:
            gc.enable()


def parse_page(
    page: RawPage,
    *,
    rules: SiteRules | None = None,
    on_tree: Callable[[etree._Element], None] | None = None,
) -> Content:
    """Extract the article from a fetched page (final URL, Content-Type, fetch time);
    `on_tree` as for `parse_html`."""
    if not 200 <= page.status < 300:
        raise ParseError(page.final_url, f"HTTP {page.status} has no page to parse")
    return parse_html(
        page.body,
        page.final_url,
        content_type=page.content_type,
        rules=rules,
        now=page.fetched_at,
        on_tree=on_tree,
    )
