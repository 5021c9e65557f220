"""The Disqus parser: threads and posts into records, HTML into text, skipped posts' replies
re-attached, and broken exports refused with the file, the line and the reason."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from annotator.corpus.importers.disqus import html_to_text, parse_disqus
from annotator.corpus.importers.records import ArticleRecord, CommentRecord, ImportFileError

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "fixtures" / "samples" / "thread.disqus.xml"
BROKEN = Path(__file__).resolve().parent / "broken" / "disqus"

OPEN = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">\n'
    '<thread dsq:id="t1"><id>a1</id><link>https://example.org/a/1</link>'
    "<title>First</title></thread>\n"
)
CLOSE = "</disqus>\n"


def post(dsq_id: str, parent: str | None = None, *, deleted=False, spam=False, text="Hi") -> str:
    parent_tag = f'<parent dsq:id="{parent}" />' if parent else ""
    return (
        f'<post dsq:id="{dsq_id}"><message><![CDATA[<p>{text}</p>]]></message>'
        f"<isDeleted>{str(deleted).lower()}</isDeleted><isSpam>{str(spam).lower()}</isSpam>"
        f'<author><name>N{dsq_id}</name></author><thread dsq:id="t1" />{parent_tag}</post>\n'
    )


def parse_text(xml: str, filename: str = "export.xml") -> list:
    return list(parse_disqus(io.BytesIO(xml.encode()), filename))


def parse_file(path: Path) -> list:
    with path.open("rb") as stream:
        return list(parse_disqus(stream, path.name))


def comments_of(records: list) -> dict[str, CommentRecord]:
    return {r.source_id: r for r in records if isinstance(r, CommentRecord)}


def test_it_reads_threads_as_articles_with_their_disqus_identifier():
    articles = [r for r in parse_file(SAMPLE) if isinstance(r, ArticleRecord)]

    assert [(a.source_id, a.title, a.url, a.line) for a in articles] == [
        ("5301001", "Why Does Syrian Army Stop Its Advance in Aleppo?", SAMPLE_URL_1, 8),
        ("5301002", "Aleppo ceasefire agreed & rebels prepare to leave", SAMPLE_URL_2, 26),
    ]
    assert articles[0].published_at == datetime(2016, 12, 8, 10, 0, tzinfo=UTC)
    assert articles[0].meta["disqus"]["identifier"] == "aleppo-2016-12-08"
    assert articles[1].meta["disqus"]["is_closed"] is True
    assert articles[1].body == "Evacuation buses are expected at dawn."


SAMPLE_URL_1 = "https://example.org/a/aleppo"
SAMPLE_URL_2 = "https://example.org/a/ceasefire"


def test_it_reads_kept_posts_as_comments_in_file_order_with_their_start_lines():
    records = parse_file(SAMPLE)

    summary = [
        (r.source_id, r.article_id, r.parent_id, r.line)
        for r in records
        if isinstance(r, CommentRecord)
    ]
    assert summary == [
        ("9000001", "5301001", None, 42),
        ("9000002", "5301001", "9000001", 57),
        ("9000004", "5301001", "9000003", 71),
        ("9000003", "5301001", "9000002", 85),
        ("9000006", "5301001", "9000004", 98),
        ("9100001", "5301002", None, 125),
        ("9100003", "5301002", "9100001", 151),
    ]


def test_it_turns_messages_into_plain_text_and_keeps_authors():
    comments = comments_of(parse_file(SAMPLE))

    assert comments["9000001"].text == (
        "From SANA, which reports the evacuation of civilians has begun.\n\n"
        "The pause makes sense \u2014 for now."
    )
    assert comments["9000002"].text == "Hopefully time is on their side.\nThis time."
    assert comments["9000004"].text == "Both can be true. See the map (https://example.org/map)."
    assert comments["9100003"].text == "It did not hold the last three times."
    assert comments["9000002"].author == "Zoë Ångström"
    assert comments["9000003"].author == "محمد الحلبي"
    assert comments["9000001"].posted_at == datetime(2016, 12, 8, 11, 2, tzinfo=UTC)
    assert comments["9000001"].meta == {
        "disqus": {
            "username": "douglashouck",
            "is_anonymous": False,
            "is_deleted": False,
            "is_spam": False,
        }
    }


def test_it_never_keeps_e_mail_or_ip_addresses():
    records = parse_file(SAMPLE)

    dumped = repr(records)
    assert "@example" not in dumped
    assert "198.51.100.7" not in dumped


def test_it_skips_spam_and_deleted_posts_and_reattaches_their_replies():
    comments = comments_of(parse_file(SAMPLE))

    assert "9000005" not in comments  # spam, and after its reply in the file
    assert "9100002" not in comments  # deleted
    assert comments["9000006"].parent_id == "9000004"
    assert comments["9000006"].meta["disqus"]["skipped_ancestors"] == ["9000005"]
    assert comments["9100003"].parent_id == "9100001"
    assert comments["9100003"].meta["disqus"]["skipped_ancestors"] == ["9100002"]


def test_it_reattaches_across_a_chain_of_skipped_posts_to_the_article():
    xml = OPEN + post("p3", "p2") + post("p2", "p1", spam=True) + post("p1", deleted=True)

    comments = comments_of(parse_text(xml + CLOSE))

    assert list(comments) == ["p3"]
    assert comments["p3"].parent_id is None
    assert comments["p3"].meta["disqus"]["skipped_ancestors"] == ["p2", "p1"]


def test_it_reattaches_to_the_nearest_kept_ancestor():
    xml = OPEN + post("p1") + post("p2", "p1", deleted=True) + post("p3", "p2") + post("p4", "p3")

    comments = comments_of(parse_text(xml + CLOSE))

    assert {k: c.parent_id for k, c in comments.items()} == {"p1": None, "p3": "p1", "p4": "p3"}
    assert "skipped_ancestors" not in comments["p4"].meta["disqus"]


def test_it_survives_skipped_posts_that_answer_each_other():
    xml = OPEN + post("p1", "p2", spam=True) + post("p2", "p1", spam=True) + post("p3", "p1")

    comments = comments_of(parse_text(xml + CLOSE))

    assert comments["p3"].parent_id is None


def test_it_yields_a_post_of_an_unknown_thread_for_the_loader_to_report():
    xml = OPEN + post("p1").replace('dsq:id="t1"', 'dsq:id="t404"') + CLOSE

    comments = comments_of(parse_text(xml))

    assert comments["p1"].article_id == "t404"


def test_it_accepts_a_thread_referenced_by_its_identifier():
    xml = OPEN + post("p1").replace('<thread dsq:id="t1" />', "<thread>a1</thread>") + CLOSE

    assert comments_of(parse_text(xml))["p1"].article_id == "t1"


def test_it_reads_a_stream_that_cannot_seek():
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self.data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    with SAMPLE.open("rb") as stream:
        expected = list(parse_disqus(stream, SAMPLE.name))
    one_way = io.BufferedReader(OneWay(SAMPLE.read_bytes()))
    assert not one_way.seekable()

    records = list(parse_disqus(one_way, SAMPLE.name))

    assert records == expected
    assert len(comments_of(records)) == 7


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("Line<br>next<br/>last", "Line\nnext\nlast"),
        ("Fish &amp; chips &lt;3 &eacute;t&#233; &#x263A;", "Fish & chips <3 été ☺"),
        ("<p>Hi</p><script>alert('x')</script><style>p{}</style>", "Hi"),
        ('<a href="https://example.org/x">the report</a>', "the report (https://example.org/x)"),
        ('<a href="https://example.org/x">https://example.org/x</a>', "https://example.org/x"),
        ('<a href="javascript:alert(1)">click</a>', "click"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("<p>  spaced\n   out  </p>", "spaced out"),
        ("<blockquote>quoted</blockquote>reply", "quoted\n\nreply"),
        ("", ""),
    ],
)
def test_it_turns_html_into_plain_text(html, text):
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("name", "line", "reason"),
    [
        ("empty.xml", None, "the file is empty"),
        ("external_entity.xml", 3, "declares the external entity 'secret'"),
        ("invalid_time.xml", 11, "invalid createdAt 'last Tuesday'"),
        ("invalid_utf8.xml", 10, "invalid UTF-8 (byte 0xe9)"),
        ("mismatched_tag.xml", 12, "malformed XML: mismatched tag"),
        ("not_disqus.xml", 2, "not a Disqus export: the root element is <rss>"),
        ("post_without_id.xml", 9, "<post> without a dsq:id attribute"),
        ("post_without_thread.xml", 9, "post 11 has no <thread dsq:id=...> reference"),
        ("truncated.xml", 13, "malformed XML: no element found"),
        ("xml_bomb.xml", 3, "declares the entity 'lol'; entity declarations are refused"),
    ],
)
def test_it_refuses_each_broken_file_naming_file_line_and_reason(name, line, reason):
    with pytest.raises(ImportFileError) as caught:
        parse_file(BROKEN / name)

    error = caught.value
    assert (error.filename, error.line) == (name, line)
    assert reason in error.reason
    assert str(error).startswith(f"{name}, line {line}: " if line else f"{name}: ")


def test_it_has_a_test_for_every_broken_file():
    tested = {
        "empty.xml",
        "external_entity.xml",
        "invalid_time.xml",
        "invalid_utf8.xml",
        "mismatched_tag.xml",
        "not_disqus.xml",
        "post_without_id.xml",
        "post_without_thread.xml",
        "truncated.xml",
        "xml_bomb.xml",
    }

    assert {path.name for path in BROKEN.iterdir()} == tested


def test_it_reports_invalid_utf8_on_its_line_beyond_the_first_chunk():
    xml = OPEN + "".join(post(f"p{n}") for n in range(2000))
    broken = xml.encode() + b'<post dsq:id="x"><message>\xff</message></post>\n' + CLOSE.encode()

    with pytest.raises(ImportFileError) as caught:
        list(parse_disqus(io.BytesIO(broken), "big.xml"))

    assert len(broken) > 128 * 1024
    assert caught.value.line == xml.count("\n") + 1


def test_it_streams_a_large_export_in_flat_memory(tmp_path):
    path = tmp_path / "big.xml"
    posts = 30_000
    with path.open("w", encoding="utf-8") as out:
        out.write(OPEN)
        for n in range(posts):
            parent = f"p{n - 1}" if n % 50 else None
            skipped = n % 1000 == 7
            out.write(post(f"p{n}", parent, spam=skipped, text=f"Comment {n} with some words"))
        out.write(CLOSE)
    assert path.stat().st_size > 6_000_000

    comments = 0
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            for record in parse_disqus(stream, path.name):
                comments += isinstance(record, CommentRecord)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert comments == posts - posts // 1000
    # Only the skipped posts (30 here) and one 64 KB chunk of records are held at a time.
    assert peak < 3_000_000
