"""The lowest common ancestor the extractor uses must not depend on memory reuse."""

from __future__ import annotations

import random

from lxml import html

from scraper.parse.extract import _lca


def test_lowest_common_ancestor_of_many_pairs() -> None:
    root = html.fromstring(
        "<html><body><main><div><aside><b>x</b></aside></div>"
        + "".join(f"<section><div><p><i>{n}</i></p></div></section>" for n in range(30))
        + "</main></body></html>"
    )
    leaves = list(root.iter("b", "i"))
    rng = random.Random(7)
    for _ in range(300):
        a, b = rng.sample(leaves, 2)
        # computed after the call: no ancestor proxy may be alive while _lca runs
        found = _lca(a, b)
        path_a = [a, *a.iterancestors()]
        expected = next(x for x in [b, *b.iterancestors()] if x in path_a)
        assert found is expected
