"""The scraped plain-text importer: its heuristics one by one, the seed line by line against
a reader's own reading (``seed_reading.py``), stable ids, corrections and broken files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from annotator.corpus.importers import parse
from annotator.corpus.importers.records import ArticleRecord, CommentRecord, ImportFileError
from annotator.corpus.importers.text import (
    WINDOW,
    article_source_id,
    confirm_refusal,
    is_author_line,
    parse_text,
    reconstruct_thread,
)
from tests.corpus.importers.seed_reading import (
    ARTICLE_END,
    ARTICLE_LINES,
    NAMED_REPLIES,
    SEED_READING,
)

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "fixtures" / "seed_thread.txt"
SAMPLE = ROOT / "fixtures" / "samples" / "text" / "thread_bom_crlf.txt"
BROKEN = Path(__file__).resolve().parent / "broken" / "text"

# Measured against seed_reading.py; raise them when the heuristics improve, never lower them.
AGREEING_PARENTS = 57
PARENTS_IN_TOP_3 = 63

HEAD = "A headline\n\nA headline\n\nThe army said the convoy left on Monday.\n"


def seed():
    return reconstruct_thread(SEED.read_text("utf-8"), SEED.name)


def thread(*comments: str, head: str = HEAD):
    """A small thread: the head, then each comment after two blank lines."""
    text = head + "".join("\n\n" + comment + "\n" for comment in comments)
    return reconstruct_thread(text, "small.txt")


def records_of(data: bytes, options: dict | None = None, filename: str = "thread.txt") -> list:
    return list(parse_text(io.BytesIO(data), filename, options or {}))


# --- The seed, line by line -----------------------------------------------------------------


def test_it_reads_the_seed_title_once_and_the_article_up_to_line_15():
    reconstruction = seed()

    assert reconstruction.title == "Why Does Syrian Army Stop Active Military Operation In Aleppo?"
    assert reconstruction.title_line == 1
    assert [block.line for block in reconstruction.article_paragraphs] == list(ARTICLE_LINES)
    assert reconstruction.article_end == ARTICLE_END


def test_it_splits_the_seed_into_the_comments_of_the_reading_with_their_authors():
    comments = seed().comments

    assert [(c.line, c.author) for c in comments] == [(line, a) for line, a, _ in SEED_READING]
    assert len(comments) == 63


def test_it_gives_every_named_reply_of_the_seed_the_comment_just_above():
    by_line = {c.line: c for c in seed().comments}

    assert len(NAMED_REPLIES) == 22
    for line, author, parent in NAMED_REPLIES:
        assert (by_line[line].author, by_line[line].parent_line) == (author, parent), line
        assert by_line[line].confidence == "explicit"


def test_it_agrees_with_the_reading_on_most_parents_of_the_seed():
    reading = {line: parent for line, _, parent in SEED_READING}
    comments = seed().comments

    right = sum(c.parent_line == reading[c.line] for c in comments)
    print(f"{right} of {len(comments)} parents agree with the reading")

    assert right >= AGREEING_PARENTS


def test_its_candidates_hold_the_readings_parent_of_every_seed_comment():
    reading = {line: parent for line, _, parent in SEED_READING}
    comments = seed().comments

    ranks = [[k.parent_line for k in c.candidates].index(reading[c.line]) for c in comments]
    print(f"top-1 {ranks.count(0)}, top-3 {sum(r < 3 for r in ranks)} of {len(ranks)}")

    assert sum(rank < 3 for rank in ranks) >= PARENTS_IN_TOP_3
    assert ranks.count(0) >= AGREEING_PARENTS


def test_it_puts_the_chosen_parent_first_and_always_offers_the_article():
    for comment in seed().comments:
        assert comment.candidates[0].parent_line == comment.parent_line
        assert None in [k.parent_line for k in comment.candidates]
        assert comment.reason
        scores = [k.score for k in comment.candidates[1:]]
        assert scores == sorted(scores, reverse=True)


def test_it_joins_the_paragraphs_of_a_comment_with_a_blank_line():
    by_line = {c.line: c for c in seed().comments}

    assert by_line[30].text.startswith("Why not consolidate the Aleppo gains?")
    assert by_line[30].text.count("\n\n") == 2
    assert by_line[30].end_line == 34
    assert by_line[153].end_line == 159


def test_it_moves_the_article_end_where_the_admin_says():
    shorter = reconstruct_thread(SEED.read_text("utf-8"), SEED.name, article_end=13)
    longer = reconstruct_thread(SEED.read_text("utf-8"), SEED.name, article_end=17)

    assert shorter.article_end == 13
    assert shorter.article_paragraphs[-1].line == 13
    assert shorter.comments[0].line == 15
    assert longer.article_paragraphs[-1].line == 17
    assert longer.comments[0].line == 20


def test_paragraphs_moved_out_of_the_article_become_separate_comments_and_can_move_back():
    text = SEED.read_text("utf-8")
    default = reconstruct_thread(text, SEED.name)
    shorter = reconstruct_thread(text, SEED.name, article_end=11)
    # Lines 13 and 15 were article paragraphs: each is a comment of its own now, and the
    # first reader comment (line 17, "I suppose...") is untouched, not merged into them.
    assert [c.line for c in shorter.comments[:3]] == [13, 15, 17]
    assert shorter.comments[0].text.startswith("However, Lavrov")
    assert shorter.comments[1].text.startswith("The Russian attitude")
    assert "\n\n" not in shorter.comments[1].text
    assert shorter.comments[2].text == default.comments[0].text
    assert [c.text for c in shorter.comments[2:]] == [c.text for c in default.comments]
    # Each released paragraph ends where the article can end again: back to the default.
    back = reconstruct_thread(text, SEED.name, article_end=shorter.comments[1].end_line)
    assert [b.line for b in back.article_paragraphs] == list(ARTICLE_LINES)
    assert [(c.line, c.text) for c in back.comments] == [(c.line, c.text) for c in default.comments]


def test_a_re_import_after_moving_the_article_end_adds_nothing(project):
    from annotator.corpus.importers.loader import import_file
    from annotator.corpus.models import Comment

    first = import_file(project, SEED, fmt="text", options={"article_end": 13})
    same_choice = import_file(project, SEED, fmt="text", options={"article_end": 13})
    default = import_file(project, SEED, fmt="text")
    assert first.comments_added == 64  # the seed's 63 and the paragraph at line 15
    assert same_choice.comments_added == default.comments_added == 0
    texts = list(Comment.objects.filter(article__project=project).values_list("text", flat=True))
    assert len(texts) == len(set(texts))  # no sentence in the thread twice


# --- Heuristics, one by one -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Alexey Kozyachiy",
        "Terence Silvestre Jr.",
        "888mladen .",
        "Pavel Pustina (ARTforU)",
        "VeeNarian (Yerevan)",
        "Marek Pejović",
        "Ludwig van Beethoven",
    ],
)
def test_it_takes_a_short_capitalised_line_for_an_author(line):
    assert is_author_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Could be, sure",
        "He is dinosaur since Yeltsins era",
        "What do you think guys?",
        "We will see.",
        "Thanks",
        "Yup!",
        "Sun Tzu: never give up",
        "Two lines\nof text",
        "Russian And American Experts Will Control The Evacuation Of Civilians",
    ],
)
def test_it_does_not_take_a_sentence_for_an_author(line):
    assert not is_author_line(line)


def test_it_drops_the_repeated_title_but_keeps_a_single_one():
    once = reconstruct_thread("A headline\n\nThe army said so.\n", "t.txt")

    assert [b.text for b in thread().article_paragraphs] == [
        "The army said the convoy left on Monday."
    ]
    assert once.title == "A headline"
    assert [b.text for b in once.article_paragraphs] == ["The army said so."]


def test_it_ends_the_article_at_the_first_double_blank_line():
    reconstruction = thread("First comment.", "Second comment.")

    assert reconstruction.article_end == 5
    assert [c.text for c in reconstruction.comments] == ["First comment.", "Second comment."]


def test_it_splits_a_first_person_paragraph_off_the_article():
    head = HEAD + "\nOfficials expect more.\n\nI suppose this will not last.\n"

    reconstruction = thread("Another comment.", head=head)

    assert [b.line for b in reconstruction.article_paragraphs] == [5, 7]
    assert reconstruction.comments[0].text == "I suppose this will not last."


def test_it_keeps_quoted_first_person_in_the_article():
    head = HEAD + "\n“We will not stop,” the minister said.\n"

    reconstruction = thread("A comment.", head=head)

    assert reconstruction.article_end == 7
    assert reconstruction.comments[0].text == "A comment."


def test_it_ends_the_article_before_a_paragraph_that_gets_a_named_reply():
    head = HEAD + "\nThe convoy is a trick.\n\nJohn Smith\n\nNo it is not.\n"

    reconstruction = thread(head=head)

    assert reconstruction.article_end == 5
    first, reply = reconstruction.comments
    assert (first.line, first.text) == (7, "The convoy is a trick.")
    assert (reply.author, reply.parent_line, reply.confidence) == ("John Smith", 7, "explicit")


def test_it_accepts_an_article_without_comments():
    reconstruction = thread()

    assert reconstruction.comments == []
    assert len(records_of(HEAD.encode())) == 1


def test_it_needs_single_blank_lines_around_an_author_line():
    after_gap = thread("A comment.", "John Smith\n\nA reply?")

    assert [c.author for c in after_gap.comments] == ["", ""]
    assert after_gap.comments[1].text == "John Smith\n\nA reply?"


def test_it_chains_named_replies_to_the_comment_just_above():
    reconstruction = thread("Start.\n\nAnna Berg\n\nFirst answer.\n\nOle Holm\n\nSecond answer.")

    assert [(c.author, c.parent_line) for c in reconstruction.comments] == [
        ("", None),
        ("Anna Berg", 8),
        ("Ole Holm", 12),
    ]


def test_it_defaults_to_the_article_with_high_confidence_when_nothing_points_back():
    reconstruction = thread("The convoy was late again.", "Prices of bread went up in Homs.")

    second = reconstruction.comments[1]
    assert (second.parent_line, second.confidence) == (None, "high")
    assert [k.parent_line for k in second.candidates] == [None, 8]


def test_it_answers_the_question_just_above():
    reconstruction = thread("The convoy was late.", "Who pays for the fuel?", "The UN does.")

    assert reconstruction.comments[2].parent_line == 11
    assert "asks a question" in reconstruction.comments[2].reason


def test_it_follows_rare_words_back_up_the_thread():
    reconstruction = thread(
        "Putin will do everything to lift the sanctions.",
        "What is mean everything? Withdraw from Crimea?",
        "The sanctions hurt farmers, and Putin cannot lift them.",
    )

    second, third = reconstruction.comments[1:]
    assert second.parent_line == 8
    assert "everything" in second.reason
    assert third.parent_line == 8  # three words of 8: up the spine, past the question


@pytest.mark.parametrize("reply", ["No, that is wrong.", "Even if they lose?", "Could be."])
def test_it_takes_an_answer_like_opening_as_a_reply_to_the_comment_above(reply):
    reconstruction = thread("The convoy was late.", reply)

    assert reconstruction.comments[1].parent_line == 8


def test_it_marks_a_close_call_as_low_confidence():
    reconstruction = thread("The convoy carried flour.", "Flour convoys are old news.")

    second = reconstruction.comments[1]
    assert second.confidence in {"low", "medium"}
    assert len(second.candidates) == 2


def test_it_ranks_only_a_window_of_recent_comments():
    early = "Zanzibar bananas arrive."
    filler = [f"Comment number {n} about the weather." for n in range(WINDOW + 2)]
    reconstruction = thread(early, *filler, "Zanzibar bananas again, they sell well in the market.")

    last = reconstruction.comments[-1]
    assert all(k.parent_line != reconstruction.comments[0].line for k in last.candidates)
    assert last.parent_line is None


# --- Stable ids ----------------------------------------------------------------------------


def test_it_derives_the_article_id_from_the_normalised_title():
    records = records_of(SEED.read_bytes())
    retitled = records_of(SEED.read_bytes().replace(b"In Aleppo?", b"In  ALEPPO?"))

    assert records[0].source_id.startswith("text-")
    assert retitled[0].source_id == records[0].source_id
    assert article_source_id("A headline") != article_source_id("Another headline")


def test_it_gives_the_same_ids_to_the_same_comments_in_an_updated_scrape():
    base = SEED.read_bytes()
    updated = base + b"\n\nA late comment that arrived after the first scrape.\n"

    first = records_of(base)
    second = records_of(updated)

    assert [
        (r.source_id, r.parent_id if isinstance(r, CommentRecord) else None) for r in first
    ] == [(r.source_id, r.parent_id if isinstance(r, CommentRecord) else None) for r in second[:-1]]
    assert second[-1].source_id not in {r.source_id for r in first}
    assert len({r.source_id for r in second}) == len(second)


def test_it_numbers_identical_comments_so_their_ids_differ():
    reconstruction_text = HEAD + "\n\n+1\n\n\nSomething else.\n\n\n+1\n"

    comments = [r for r in records_of(reconstruction_text.encode()) if isinstance(r, CommentRecord)]

    assert comments[0].source_id.startswith("t-")
    assert comments[2].source_id == comments[0].source_id + "-2"


# --- Records and corrections ------------------------------------------------------------------


def test_it_yields_the_article_then_the_comments_with_lines_and_parent_ids():
    records = records_of(SEED.read_bytes())

    article, comments = records[0], records[1:]
    assert isinstance(article, ArticleRecord)
    assert article.line == 1
    assert article.body.startswith("The Syrian army has stopped")
    assert article.body.endswith("its Western puppeteers.")
    assert article.body.count("\n\n") == 5
    ids = {c.line: c.source_id for c in comments}
    by_line = {c.line: c for c in comments}
    assert [c.line for c in comments] == [line for line, _, _ in SEED_READING]
    assert all(c.article_id == article.source_id for c in comments)
    assert by_line[24].parent_id == ids[20]
    assert by_line[24].author == "Alexey Kozyachiy"
    assert by_line[17].parent_id is None


def test_it_is_wired_as_the_text_format_of_parse():
    with SEED.open("rb") as stream:
        records = list(parse(stream, "text", SEED.name, {"article_end": 13}))

    assert records[1].line == 15


def test_it_reads_a_bom_crlf_sample_with_accents():
    records = records_of(SAMPLE.read_bytes(), filename=SAMPLE.name)

    article, *comments = records
    assert article.title == "Aid convoys reach the city"
    assert "\r" not in article.body
    assert [(c.line, c.author) for c in comments] == [(10, ""), (14, "Zoë Ångström"), (17, "")]
    assert comments[1].parent_id == comments[0].source_id
    assert comments[1].text == "Do you think it will last? I doubt it."


def test_it_applies_the_admins_article_end_and_parents():
    seed_bytes = SEED.read_bytes()
    options = {"article_end": 15, "parents": {"20": 17, "27": None, "24": 17}}

    comments = {r.line: r for r in records_of(seed_bytes, options)[1:]}

    assert comments[20].parent_id == comments[17].source_id
    assert comments[24].parent_id == comments[17].source_id
    assert comments[27].parent_id is None
    assert comments[64].parent_id == comments[61].source_id  # untouched guesses stay


@pytest.mark.parametrize(
    ("parents", "line", "reason"),
    [
        ({"20": 20}, 20, "cannot answer itself"),
        ({"20": 27}, 20, "comes after the comment"),
        ({"20": 5}, 20, "not the start of a comment"),
        ({"21": 17}, 21, "no comment starts here"),
        ({"20": "17"}, 20, "is not a line"),
    ],
)
def test_it_refuses_a_parent_correction_that_is_not_a_comment_above(parents, line, reason):
    with pytest.raises(ImportFileError) as caught:
        records_of(SEED.read_bytes(), {"parents": parents}, filename="seed.txt")

    assert (caught.value.filename, caught.value.line) == ("seed.txt", line)
    assert reason in caught.value.reason


def test_it_refuses_an_article_end_that_is_not_a_line():
    with pytest.raises(ImportFileError, match="is not a line"):
        records_of(SEED.read_bytes(), {"article_end": "fifteen"})


# --- Broken files ------------------------------------------------------------------------------

BROKEN_FILES = sorted(p for p in BROKEN.iterdir() if p.suffix != ".expected")


@pytest.mark.parametrize("path", BROKEN_FILES, ids=[p.name for p in BROKEN_FILES])
def test_it_refuses_a_broken_file_naming_file_line_and_reason(path):
    expected = path.with_name(path.name + ".expected").read_text("utf-8").strip()

    with pytest.raises(ImportFileError) as caught, path.open("rb") as stream:
        list(parse_text(stream, path.name, {}))

    assert caught.value.filename == path.name
    assert expected in caught.value.reason
    if path.stat().st_size and "empty" not in expected:
        assert caught.value.line is not None


def test_it_names_the_line_of_an_invalid_byte():
    with pytest.raises(ImportFileError) as caught:
        records_of((BROKEN / "invalid_utf8.txt").read_bytes())

    assert caught.value.line == 6


def test_it_names_the_line_of_a_nul_byte():
    with pytest.raises(ImportFileError) as caught:
        records_of(b"Title\n\nBody\n\n\nA comment\x00\n")

    assert caught.value.line == 6


# --- What the preview may not confirm ---------------------------------------------------------


def test_a_reading_with_comments_may_be_confirmed():
    text = "Title\n\nThe article.\n\n\nA comment.\n"
    assert confirm_refusal(reconstruct_thread(text, "t.txt")) is None


def test_a_reading_without_comments_cannot_be_confirmed_and_says_why():
    refusal = confirm_refusal(reconstruct_thread("Title\n\nThe article only.\n", "t.txt"))

    assert refusal.startswith("No comments were found after the article")
    assert "choose an earlier end of the article" in refusal


def test_a_title_alone_cannot_be_confirmed_as_an_empty_article():
    refusal = confirm_refusal(reconstruct_thread("Just a headline\n", "t.txt"))

    assert refusal.startswith("No article text and no comments were found")
