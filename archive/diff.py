"""Word-level differences between two versions of an article, field by field.

What NewsDiffs and diffengine show: a headline rewritten, a date moved, a paragraph quietly
removed. Paragraphs are first paired (an unchanged paragraph is skipped, a reworded one is
diffed word by word, a new or removed one is all insertion or deletion), then each pair is
diffed over words with `difflib`. The result is plain data (`ArticleDiff`); the renderers
here give `git diff --word-diff=plain` markup and ANSI colours, the web app its own HTML.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archive.record import Article

_TOKENS = re.compile(r"\s+|[^\s]+")
_SAME_PARAGRAPH = 0.5  # similarity at which two paragraphs are one paragraph reworded


@dataclass(frozen=True, slots=True)
class Op:
    kind: str  # "equal" | "delete" | "insert"
    text: str


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str  # "headline", "published", "body[3]", "captions[0]", ...
    ops: tuple[Op, ...]

    @property
    def changed(self) -> bool:
        return any(op.kind != "equal" for op in self.ops)


@dataclass(frozen=True, slots=True)
class ArticleDiff:
    article_id: str
    from_version: int
    to_version: int
    fields: tuple[FieldDiff, ...]  # changed fields only, in reading order

    @property
    def changed(self) -> bool:
        return bool(self.fields)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.article_id,
            "from": self.from_version,
            "to": self.to_version,
            "fields": [
                {"field": f.field, "ops": [{"op": o.kind, "text": o.text} for o in f.ops]}
                for f in self.fields
            ],
        }

    def summary(self) -> str:
        """One line: which fields changed and how many words went and came."""
        gone = sum(len(o.text.split()) for f in self.fields for o in f.ops if o.kind == "delete")
        came = sum(len(o.text.split()) for f in self.fields for o in f.ops if o.kind == "insert")
        names = sorted({f.field.split("[")[0] for f in self.fields})
        return f"{', '.join(names) or 'nothing'} changed: -{gone} +{came} words"


def word_ops(old: str, new: str) -> tuple[Op, ...]:
    """Word-level operations turning `old` into `new` (whitespace kept with the words)."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    ops: list[Op] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _add(ops, "equal", "".join(a[i1:i2]))
            continue
        if tag in ("delete", "replace"):
            _add(ops, "delete", "".join(a[i1:i2]))
        if tag in ("insert", "replace"):
            _add(ops, "insert", "".join(b[j1:j2]))
    return _regroup(ops)


def _regroup(ops: list[Op]) -> tuple[Op, ...]:
    """A space kept between two changes belongs to the change: `[-a b-]{+c d+}` reads
    better than `[-a-]{+c+} [-b-]{+d+}`."""
    out: list[Op] = []
    run_del, run_ins = "", ""
    for i, op in enumerate(ops):
        between = (
            op.kind == "equal"
            and op.text.isspace()
            and 0 < i < len(ops) - 1
            and ops[i - 1].kind != "equal"
            and ops[i + 1].kind != "equal"
        )
        if op.kind == "delete" or between:
            run_del += op.text
        if op.kind == "insert" or between:
            run_ins += op.text
        if op.kind == "equal" and not between:
            _add(out, "delete", run_del)
            _add(out, "insert", run_ins)
            run_del = run_ins = ""
            _add(out, "equal", op.text)
    _add(out, "delete", run_del)
    _add(out, "insert", run_ins)
    return tuple(out)


def _add(ops: list[Op], kind: str, text: str) -> None:
    if not text:
        return
    if ops and ops[-1].kind == kind:
        ops[-1] = Op(kind, ops[-1].text + text)
    else:
        ops.append(Op(kind, text))


def _pair(old: Sequence[str], new: Sequence[str]) -> list[tuple[str | None, str | None]]:
    """Old and new paragraphs side by side: equal ones, reworded ones, added, removed."""
    out: list[tuple[str | None, str | None]] = []
    matcher = difflib.SequenceMatcher(None, list(old), list(new), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out += [(p, p) for p in old[i1:i2]]
            continue
        gone, came = list(old[i1:i2]), list(new[j1:j2])
        while gone or came:
            if gone and came:
                ratio = difflib.SequenceMatcher(None, gone[0].split(), came[0].split()).ratio()
                if ratio >= _SAME_PARAGRAPH:
                    out.append((gone.pop(0), came.pop(0)))
                    continue
                # the one that has no counterpart comes first
                later = any(
                    difflib.SequenceMatcher(None, gone[0].split(), c.split()).ratio()
                    >= _SAME_PARAGRAPH
                    for c in came[1:]
                )
                out.append((None, came.pop(0)) if later else (gone.pop(0), None))
            elif gone:
                out.append((gone.pop(0), None))
            else:
                out.append((None, came.pop(0)))
    return out


def _field(name: str, old: str | None, new: str | None) -> FieldDiff | None:
    if (old or "") == (new or ""):
        return None
    return FieldDiff(name, word_ops(old or "", new or ""))


def _captions(article: Article) -> list[str]:
    return [
        f"{cap.text} ({cap.credit})" if cap.credit else cap.text for cap in article.content.captions
    ]


def diff_articles(old: Article, new: Article) -> ArticleDiff:
    """What changed from `old` to `new` (two versions of one article), field by field."""
    a, b = old.content, new.content
    fields = [
        _field("headline", a.headline, b.headline),
        _field("subheadline", a.subheadline, b.subheadline),
        _field("published", a.published, b.published),
        _field("modified", a.modified, b.modified),
        _field("authors", ", ".join(a.authors), ", ".join(b.authors)),
    ]
    for n, (x, y) in enumerate(_pair(_captions(old), _captions(new))):
        fields.append(_field(f"captions[{n}]", x, y))
    for n, (x, y) in enumerate(_pair([p.text for p in a.body], [p.text for p in b.body])):
        fields.append(_field(f"body[{n}]", x, y))
    return ArticleDiff(old.id, old.version, new.version, tuple(f for f in fields if f))


def render_plain(diff: ArticleDiff, *, color: bool = False) -> str:
    """`[-old-]{+new+}` markup like `git diff --word-diff=plain`; red/green with `color`."""
    lines = [f"{diff.article_id}: v{diff.from_version} -> v{diff.to_version}"]
    for f in diff.fields:
        text = ""
        for n, op in enumerate(f.ops):
            if color and op.kind == "insert" and n and f.ops[n - 1].kind == "delete":
                text += " "  # red "old" then green "new", not one word "oldnew"
            text += _mark(op, color)
        lines.append(f"{f.field}: {text}")
    return "\n".join(lines) + "\n"


def _mark(op: Op, color: bool) -> str:
    if op.kind == "equal":
        return op.text
    if color:
        code = "31" if op.kind == "delete" else "32"
        return f"\x1b[{code}m{op.text}\x1b[0m"
    return f"[-{op.text}-]" if op.kind == "delete" else f"{{+{op.text}+}}"
