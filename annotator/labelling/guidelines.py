"""Markdown rendering for project guidelines, safe for text that anybody could have written.

Guidelines are written by project admins, but they are shown to every member and may quote
hostile comments, so the renderer treats them as untrusted: raw HTML is escaped, never passed
through; links and images may only point to http(s), mailto or a relative address (no
``javascript:``, ``data:``, ``vbscript:``...); table cell alignment becomes a class, because
the Content-Security-Policy refuses inline ``style`` attributes.
"""

from __future__ import annotations

import re
from functools import cache

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")
_ALIGN = re.compile(r"^text-align:(left|right|center)$")
LINK_REL = "nofollow noopener noreferrer"


class GuidelinesMarkdown(MarkdownIt):
    """CommonMark plus tables and strikethrough, with raw HTML off and an allow-list of links."""

    def __init__(self) -> None:
        super().__init__("commonmark", {"html": False, "linkify": False, "typographer": False})
        self.enable(["table", "strikethrough"])
        self.core.ruler.push("guidelines_attrs", _fix_attrs)

    def validateLink(self, url: str) -> bool:
        """Allow relative addresses and a few schemes; refuse everything else."""
        # markdown-it has normalised the address already (percent-encoded, entities decoded),
        # so a scheme cannot hide behind entities or control characters.
        scheme = _SCHEME.match(url.strip().lower())
        return scheme is None or scheme.group(1) in SAFE_SCHEMES


def _fix_attrs(state: StateCore) -> None:
    """Links get ``rel``; table alignment becomes a class (CSP forbids inline styles);
    headings move down by ``heading_offset`` levels (at most to ``h6``)."""
    offset = state.env.get("heading_offset", 0)
    tokens = list(state.tokens)
    for token in state.tokens:
        tokens.extend(token.children or ())
    for token in tokens:
        if offset and token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + offset, 6)}"
        elif token.type == "link_open":
            token.attrSet("rel", LINK_REL)
        elif token.type in ("th_open", "td_open") and "style" in token.attrs:
            align = _ALIGN.match(str(token.attrs.pop("style")))
            if align:
                token.attrSet("class", f"align-{align.group(1)}")


@cache
def _parser() -> GuidelinesMarkdown:
    return GuidelinesMarkdown()


def render_markdown(text: str, *, heading_offset: int = 0) -> SafeString:
    """Guidelines Markdown as HTML that is safe to put in a page.

    ``heading_offset=1`` renders ``#`` as ``h2`` and so on, for a page that has its own
    ``h1``.
    """
    html = _parser().render(text or "", {"heading_offset": heading_offset})
    # Safe: the parser escapes every character that it does not turn into markup itself.
    return mark_safe(html)  # noqa: S308
