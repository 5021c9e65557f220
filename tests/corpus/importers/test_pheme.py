"""PHEME: thread folders (or a ZIP of them) become one article per source tweet."""

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from annotator.corpus.importers import FORMAT_SPECS
from annotator.corpus.importers.archives import folder_members, zip_members
from annotator.corpus.importers.loader import import_file, load_records
from annotator.corpus.importers.pheme import parse_pheme, sniff_pheme_members
from annotator.corpus.importers.records import (
    ArticleRecord,
    CommentRecord,
    ImportFileError,
    Member,
    Notice,
)
from annotator.corpus.models import Article, Comment

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "samples" / "pheme"
SOURCE = "552783238415265792"
SECOND = "552800070199148544"


def members_of_folder(root: Path) -> list[Member]:
    with folder_members(root) as members:
        return members


def zip_of_folder(root: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


def parse(members: list[Member]) -> list:
    return list(parse_pheme(members, "pheme.zip"))


def records_of(records: list, kind: type) -> list:
    return [record for record in records if type(record) is kind]


def test_each_thread_is_an_article_with_its_event_rumour_flag_and_annotation():
    articles = records_of(parse(members_of_folder(SAMPLE)), ArticleRecord)

    assert [a.source_id for a in articles] == [SECOND, SOURCE]  # folder order: non-rumours first
    article = articles[1]
    assert article.title.startswith("Gunmen kill 12 at French satirical magazine Charlie Hebdo")
    assert article.body.startswith(
        "Gunmen kill 12 at French satirical magazine Charlie Hebdo in Paris & flee"
    )
    assert article.source == "twitter"
    assert article.url == f"https://twitter.com/BBCBreaking/status/{SOURCE}"
    assert article.published_at == datetime(2015, 1, 7, 11, 6, 8, tzinfo=UTC)
    assert article.meta["event"] == "charliehebdo"
    assert article.meta["rumour"] is True
    assert article.meta["annotation"]["category"] == "Death toll at Charlie Hebdo"
    assert articles[0].meta["rumour"] is False


def test_reactions_take_their_parent_from_the_structure_then_from_in_reply_to():
    records = parse(members_of_folder(SAMPLE))
    comments = {c.source_id: c for c in records_of(records, CommentRecord)}

    assert {key: (c.article_id, c.parent_id) for key, c in comments.items()} == {
        "552800523171409920": (SECOND, None),
        "552783667052167168": (SOURCE, None),
        "552785249420447745": (SOURCE, None),
        # its parent 552785375161499649 was deleted: it hangs under the tweet above that one
        "552786904317407232": (SOURCE, "552785249420447745"),
        # not in structure.json: in_reply_to_status_id_str names a reaction of the thread
        "552790017290944513": (SOURCE, "552783667052167168"),
    }
    assert comments["552786904317407232"].meta["structure_parent"] == "552785375161499649"
    assert comments["552786904317407232"].text.endswith("12 <- official count from the prosecutor")
    assert comments["552790017290944513"].text == "@ayesha_k @BBCBreaking <b>stay safe</b> 🙏"
    assert comments["552783667052167168"].author == "ayesha_k"
    assert comments["552783667052167168"].posted_at == datetime(2015, 1, 7, 11, 7, 51, tzinfo=UTC)


def test_deleted_tweets_and_the_copy_of_the_source_are_reported_in_notices():
    notices = {n.key: n.count for n in records_of(parse(members_of_folder(SAMPLE)), Notice)}

    assert notices == {"pheme_deleted": 1, "pheme_source_copy": 1}


def test_a_zip_reads_like_the_folder_and_ignores_macos_junk(tmp_path):
    path = zip_of_folder(SAMPLE, tmp_path / "pheme.zip", {"__MACOSX/._x.json": b"\x00\x05"})

    with zipfile.ZipFile(path) as archive:
        from_zip = parse(zip_members(archive))
        again = parse(zip_members(archive))

    assert from_zip == parse(members_of_folder(SAMPLE)) == again


def test_ids_are_the_id_strings_never_the_rounded_numbers(tmp_path):
    thread = tmp_path / "ev" / "rumours" / "1"
    (thread / "source-tweets").mkdir(parents=True)
    (thread / "reactions").mkdir()
    source = b'{"id": 552783238415265800, "id_str": "552783238415265792", "text": "t"}'
    (thread / "source-tweets" / "552783238415265792.json").write_bytes(source)
    reaction = {"id_str": "552783667052167168", "text": "r", "in_reply_to_status_id_str": SOURCE}
    (thread / "reactions" / "552783667052167168.json").write_bytes(orjson.dumps(reaction))

    records = parse(members_of_folder(tmp_path))

    assert [r.source_id for r in records] == [SOURCE, "552783667052167168"]
    assert records[1].parent_id is None  # no structure.json: in_reply_to names the source


def test_a_reaction_answering_nothing_in_its_thread_answers_the_source(tmp_path):
    thread = tmp_path / "1"
    (thread / "source-tweets").mkdir(parents=True)
    (thread / "reactions").mkdir()
    (thread / "source-tweets" / "1.json").write_bytes(b'{"id_str": "1", "text": "t"}')
    (thread / "reactions" / "2.json").write_bytes(
        b'{"text": "r", "in_reply_to_status_id_str": "9"}'
    )
    (thread / "structure.json").write_bytes(b'{"1": []}')

    records = parse(members_of_folder(tmp_path))

    assert (records[1].source_id, records[1].parent_id) == ("2", None)
    assert records[2] == Notice("pheme_unplaced", 1, records[2].text)


SOURCE_FILE = "t/source-tweets/1.json"
TWEET = b'{"text": "t"}'


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a/structure.json": b"{}"}, "pheme.zip: no PHEME thread found"),
        ({"t/reactions/2.json": TWEET}, "t: expected one tweet in source-tweets/, found 0"),
        ({SOURCE_FILE: b"{not json"}, "t/source-tweets/1.json: not valid JSON"),
        ({SOURCE_FILE: b'{"id_str": "1"}'}, 't/source-tweets/1.json: a tweet without "text"'),
        ({"t/source-tweets/x.json": TWEET}, 'x.json: a tweet without "id_str"'),
        (
            {SOURCE_FILE: TWEET, "t/structure.json": b'{"1": 5}'},
            "t/structure.json: 5 is neither a subtree nor [] (a leaf)",
        ),
        (
            {SOURCE_FILE: TWEET, "t/reactions/2.json": b'{"id_str": "3", "text": "r"}'},
            "t/reactions/2.json: the file holds tweet 3",
        ),
    ],
)
def test_broken_threads_are_refused_naming_the_member_and_reason(tmp_path, files, expected):
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)

    with pytest.raises(ImportFileError) as refused:
        parse(members_of_folder(tmp_path))
    assert expected in str(refused.value)


def test_pheme_member_sets_are_recognised_by_their_names():
    names = [m.name for m in members_of_folder(SAMPLE)]

    assert sniff_pheme_members(names)
    assert not sniff_pheme_members(["thread.jsonl", "a/structure.json"])
    assert not sniff_pheme_members(["__MACOSX/t/structure.json", "__MACOSX/t/source-tweets/1.json"])
    assert FORMAT_SPECS["pheme"].archive


def test_members_are_read_in_bounded_pieces(tmp_path):
    big = io.BytesIO(b" " * 100)
    member = Member("t/source-tweets/1.json", lambda: big, size=17 * 1024 * 1024)

    with pytest.raises(ImportFileError, match="too large for a tweet"):
        parse([member])


def test_a_clean_thread_loads_into_a_reply_tree(project, tmp_path):
    thread = tmp_path / "ottawashooting-all-rnr-threads" / "rumours" / "1"
    (thread / "source-tweets").mkdir(parents=True)
    (thread / "reactions").mkdir()
    (thread / "source-tweets" / "1.json").write_bytes(b'{"id_str": "1", "text": "Shots fired"}')
    for tweet_id, parent in (("2", "1"), ("3", "2"), ("4", "1")):
        tweet = {
            "id_str": tweet_id,
            "text": f"reply {tweet_id}",
            "in_reply_to_status_id_str": parent,
        }
        (thread / "reactions" / f"{tweet_id}.json").write_bytes(orjson.dumps(tweet))
    (thread / "structure.json").write_bytes(b'{"1": {"2": {"3": []}, "4": []}}')
    members = members_of_folder(tmp_path)

    result = load_records(project, lambda _pass: parse_pheme(members, "ottawa"), "ottawa")

    assert (result.articles_added, result.comments_added) == (1, 3)
    article = Article.objects.get(project=project, source_id="1")
    assert article.meta["event"] == "ottawashooting"
    assert [(c.source_id, c.depth) for c in Comment.objects.thread(article)] == [
        ("2", 0),
        ("3", 1),
        ("4", 0),
    ]


def test_the_sample_event_imports_from_a_zip_with_its_notices(project, tmp_path):
    path = zip_of_folder(SAMPLE, tmp_path / "charliehebdo.zip")

    result = import_file(project, path)

    assert (result.articles_added, result.comments_added) == (2, 5)
    assert {key: notice.count for key, notice in result.notices.items()} == {
        "pheme_deleted": 1,
        "pheme_source_copy": 1,
    }
    article = Article.objects.get(project=project, source_id=SOURCE)
    thread = Comment.objects.thread(article).select_related("parent")
    assert [(c.source_id, c.depth) for c in thread] == [
        ("552783667052167168", 0),
        ("552790017290944513", 1),
        ("552785249420447745", 0),
        ("552786904317407232", 1),
    ]
    assert import_file(project, path).comments_added == 0


def test_a_broken_thread_in_a_zip_writes_nothing(project, tmp_path):
    broken = {"charliehebdo/rumours/9/source-tweets/9.json": b"{not json"}
    path = zip_of_folder(SAMPLE, tmp_path / "charliehebdo.zip", broken)

    with pytest.raises(ImportFileError, match=r"9\.json: not valid JSON"):
        import_file(project, path)
    assert not Article.objects.filter(project=project).exists()
