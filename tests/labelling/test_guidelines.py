"""Rendering guidelines Markdown: formatting works, hostile input stays inert text."""

import re
from html.parser import HTMLParser

import pytest
from django.utils.safestring import SafeString

from annotator.labelling.default_scheme import default_scheme, guidelines_from_scheme
from annotator.labelling.guidelines import render_markdown

# Each of these must come out with no element, attribute or address that can run script.
XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "<iframe src=javascript:alert(1)></iframe>",
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click]( javascript:alert(1) )",
    "[click](<javascript:alert(1)>)",
    "[click](java&#x73;cript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![pic](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![pic](data:image/png;base64,iVBORw0KGgo=)",
    "![pic](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    '[x](https://example.org/"onmouseover="alert(1))',
    '[x](https://example.org "title\\" onmouseover=\\"alert(1)")',
    "<img src=x onerror=alert(1)//",
    "<<script>script>alert(1)<</script>/script>",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | <img src=x onerror=alert(1)> |",
    "**<b onmouseover=alert(1)>bold</b>**",
    "<!-- <script>alert(1)</script> -->",
    "<details open ontoggle=alert(1)>",
]

SAFE_TAGS = {
    "p", "a", "img", "code", "pre", "em", "strong", "s", "ul", "ol", "li", "blockquote",
    "hr", "br", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
SAFE_ATTRIBUTES = {"href", "src", "alt", "title", "rel", "class", "start"}
SAFE_ADDRESS = re.compile(r"^(https?:|mailto:|[^:]*$)", re.IGNORECASE)


class ElementCollector(HTMLParser):
    """Every element and attribute the browser would see, entities decoded as it would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag


def elements_of(html: str) -> list[tuple[str, dict[str, str]]]:
    collector = ElementCollector()
    collector.feed(html)
    collector.close()
    return collector.elements


@pytest.mark.parametrize("text", XSS)
def test_hostile_markdown_renders_as_inert_text(text):
    html = str(render_markdown(text))
    for tag, attributes in elements_of(html):
        assert tag in SAFE_TAGS, html
        assert set(attributes) <= SAFE_ATTRIBUTES, html
        for name in ("href", "src"):
            if name in attributes:
                # Browsers ignore spaces and control characters around a scheme.
                address = re.sub(r"[\x00-\x20]", "", attributes[name])
                assert SAFE_ADDRESS.match(address), html


def test_the_checker_would_catch_what_it_looks_for():
    assert elements_of('<img src=x onerror="alert(1)">') == [
        ("img", {"src": "x", "onerror": "alert(1)"})
    ]
    assert not SAFE_ADDRESS.match("javascript:alert(1)")
    assert not SAFE_ADDRESS.match("DATA:text/html,x")


def test_raw_html_is_shown_escaped_not_dropped():
    html = render_markdown("Never <script>alert(1)</script> here")
    assert html == "<p>Never &lt;script&gt;alert(1)&lt;/script&gt; here</p>\n"


def test_links_to_refused_schemes_stay_as_text():
    assert render_markdown("[click](javascript:alert(1))") == (
        "<p>[click](javascript:alert(1))</p>\n"
    )
    assert "<a" not in render_markdown("[x](data:text/html,hi)")
    assert "<img" not in render_markdown("![x](data:image/png;base64,AAAA)")


@pytest.mark.parametrize(
    "address",
    [
        "https://example.org/a?b=1",
        "http://example.org",
        "mailto:ada@example.org",
        "/p/aleppo/guidelines/",
        "#stance",
        "other-page",
    ],
)
def test_safe_links_work_and_do_not_pass_on_the_page(address):
    html = render_markdown(f"[see]({address})")
    assert f'<a href="{address}" rel="nofollow noopener noreferrer">see</a>' in html


def test_it_renders_formatting_headings_lists_and_tables():
    html = render_markdown(
        "# Title\n\nSome **bold**, *em*, ~~old~~ and `code`.\n\n- one\n- two\n\n"
        "| value | meaning |\n|:------|------:|\n| `support` | backs it |\n"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<em>em</em>" in html
    assert "<s>old</s>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert '<th class="align-left">value</th>' in html
    assert '<td class="align-right">backs it</td>' in html
    assert "style=" not in html  # the CSP refuses inline styles


def test_it_can_move_headings_down_under_the_page_title():
    html = render_markdown("# One\n\n## Two\n\n###### Six", heading_offset=1)
    assert "<h2>One</h2>" in html
    assert "<h3>Two</h3>" in html
    assert "<h6>Six</h6>" in html
    assert "<h1>" not in html


def test_it_returns_safe_html_and_accepts_empty_text():
    assert isinstance(render_markdown("x"), SafeString)
    assert render_markdown("") == ""
    assert render_markdown(None) == ""


def test_the_default_guidelines_render_every_question_as_a_heading():
    scheme = default_scheme()
    html = render_markdown(guidelines_from_scheme(scheme))
    for number, question in enumerate(scheme.questions, start=1):
        assert f"<h2>{number}. {question.title} (<code>{question.key}</code>)</h2>" in html
    assert "<li><strong>Support</strong> (<code>support</code>, key 1)" in html
