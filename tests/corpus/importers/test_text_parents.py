"""The parent cues of ``text_parents.py``, one small synthetic thread each.

Threads are written as the scrape writes them: the head, then comments after two blank
lines, a named reply (``named``) as its author's line and its text after single blank lines.
"""

from __future__ import annotations

from annotator.corpus.importers.text import reconstruct_thread

HEAD = "A headline\n\nA headline\n\nThe army said the convoy left on Monday.\n"


NAMED = "\x00"  # marks a named reply in ``thread``'s arguments


def named(author: str, text: str) -> str:
    """A named reply for ``thread``: the author's line, then the text."""
    return f"{NAMED}{author}\n\n{text}"


def thread(*comments: str, head: str = HEAD):
    """The comments of a small thread: the head, then each comment after two blank lines,
    each named reply after one."""
    parts = [head]
    for comment in comments:
        if comment.startswith(NAMED):
            parts.append("\n" + comment[1:] + "\n")
        else:
            parts.append("\n\n" + comment + "\n")
    return reconstruct_thread("".join(parts), "small.txt").comments


def candidate(comment, line):
    """The candidate of ``comment`` for the parent at ``line`` (None: the article)."""
    return next(k for k in comment.candidates if k.parent_line == line)


def test_it_answers_a_question_asked_in_an_earlier_paragraph_up_the_spine():
    first, reply, answer = thread(
        "Who pays the drivers of the convoy?\n\nIt left Homs on Monday.",
        named("Anna Berg", "The roads are bad."),
        "The drivers are paid by the Red Crescent.",
    )

    assert reply.parent_line == first.line
    assert answer.parent_line == first.line
    assert f"answers line {first.line}'s question (“drivers”)" in answer.reason


def test_it_does_not_take_a_common_word_for_the_answer_to_a_question():
    comments = thread(
        "Convoy one is late?",
        "Convoy two came on time.",
        "Convoy three came too.",
        "Convoy four is on the road.",
        "Convoy five, the last convoy, is late again.",
    )

    assert "question" not in comments[-1].reason  # "convoy" is in every comment


def test_it_trusts_words_shared_far_up_the_spine_less_than_near_ones():
    comments = thread(
        "Zanzibar bananas arrive.",
        named("Anna Berg", "The harbour is busy."),
        named("Ole Holm", "The ships are late."),
        named("Per Lund", "The crews are tired."),
        "Zanzibar bananas rot on the quay.",
    )

    last = comments[-1]
    # Two rare words four levels up: once enough to pick that comment, now a close call.
    assert last.parent_line is None
    assert last.confidence == "low"
    assert [k.parent_line for k in last.candidates][:2] == [None, comments[0].line]


def test_that_saying_answers_the_comment_that_quotes_it_not_the_one_above():
    maxim, rejoinder, answer = thread(
        "Sun Tzu said: “Leave the enemy a way out.”",
        named("Anna Berg", "Never stop before the end."),
        "That saying is about large armies.",
    )

    assert answer.parent_line == maxim.line
    assert f"refers to the quotation of line {maxim.line}" in answer.reason
    assert candidate(answer, rejoinder.line).score < candidate(answer, maxim.line).score


def test_that_saying_answers_the_comment_above_when_nothing_up_the_spine_quotes():
    first, answer = thread("Never stop before the end, as they say.", "That saying is old.")

    assert answer.parent_line == first.line


def test_an_unnamed_comment_naming_a_commenter_answers_that_commenter():
    _, anna, _, question = thread(
        "The convoy left.",
        named("Anna Berg", "It returns on Friday."),
        named("Ole Holm", "The roads are closed."),
        "@Anna which Friday do you mean, this one or the next?",
    )

    assert question.parent_line == anna.line
    assert "names Anna Berg" in question.reason


def test_it_takes_a_greeting_or_a_full_name_for_naming_someone():
    for text in ("Anna, the roads are open again.", "As Anna Berg says, the roads are open."):
        _, anna, _, reply = thread(
            "The convoy left.",
            named("Anna Berg", "It returns on Friday."),
            named("Ole Holm", "The roads are closed."),
            text,
        )
        assert "names Anna Berg" in candidate(reply, anna.line).reason, text


def test_a_one_word_name_in_running_text_does_not_name_its_writer():
    _, truth, reply = thread(
        "The convoy left.",
        named("Truth", "It returns on Friday."),
        "The truth is that nobody knows where it went on that road.",
    )

    assert "names" not in candidate(reply, truth.line).reason


def test_a_named_reply_naming_a_commenter_further_up_answers_that_one_with_medium_confidence():
    _, anna, ole, per = thread(
        "The convoy left.",
        named("Anna Berg", "It returns on Friday."),
        named("Ole Holm", "The roads are closed."),
        named("Per Lund", "@Anna you are too hopeful."),
    )

    assert (per.parent_line, per.confidence) == (anna.line, "medium")
    assert "answers line" in per.reason and "names Anna Berg" in per.reason
    # The scrape's own rule stays on offer, second.
    assert [k.parent_line for k in per.candidates][:2] == [anna.line, ole.line]
    assert per.candidates[1].reason == "named reply"


def test_a_named_reply_naming_the_writer_just_above_stays_explicit():
    *_, ole, per = thread(
        "The convoy left.",
        named("Anna Berg", "It returns on Friday."),
        named("Ole Holm", "The roads are closed."),
        named("Per Lund", "@Ole which roads?"),
    )

    assert (per.parent_line, per.confidence) == (ole.line, "explicit")


def test_a_named_reply_quoting_a_comment_further_up_answers_it_with_low_confidence():
    _, anna, _, per = thread(
        "The convoy left.",
        named("Anna Berg", "It will be back before the rains come."),
        named("Ole Holm", "The roads are closed."),
        named("Per Lund", "“before the rains come” is wishful thinking."),
    )

    assert (per.parent_line, per.confidence) == (anna.line, "low")
    assert f"quotes line {anna.line}" in per.reason


def test_a_lone_quoted_word_is_emphasis_unless_few_comments_use_it():
    comments = thread(
        "The convoy left, the convoy will return.",
        named("Anna Berg", "A convoy of what?"),
        named("Ole Holm", "The convoy of trucks."),
        named("Per Lund", "Some “convoy”, three trucks."),
    )

    assert (comments[-1].parent_line, comments[-1].confidence) == (comments[-2].line, "explicit")


def test_an_unnamed_comment_quoting_an_earlier_comment_answers_it():
    kerry, _, reply = thread(
        "Kerry agreed to a joint cell in Geneva.",
        "Bread prices rose in Homs, the bakers say.",
        "What “joint cell in Geneva” are they talking about?",
    )

    assert reply.parent_line == kerry.line
    assert f"quotes line {kerry.line}" in reply.reason


def test_a_passage_the_article_holds_is_a_quotation_of_the_article():
    _, reply = thread(
        "The convoy is a lie, Anna says.",
        "“the convoy left on Monday” is wrong: it left on Sunday.",
    )

    assert reply.parent_line is None
    assert "quotes the article" in reply.reason


def test_it_answers_the_articles_question_with_words_hardly_anyone_else_uses():
    head = HEAD + "\nWho will pay for the reconstruction of the bridges?\n"
    *_, reply = thread(
        "Anyone know when the convoy returns?",
        "The reconstruction of the bridges will be paid by the Gulf states.",
        head=head,
    )

    assert reply.parent_line is None
    assert "answers the article's question (bridges, reconstruction)" in reply.reason


def test_a_named_reply_is_not_tied_to_its_writers_own_earlier_words():
    *_, anna, _, again = thread(
        "The first comment.",
        named("Anna Berg", "Zanzibar bananas are cheap."),
        named("Ole Holm", "Not in Homs."),
        named("Anna Berg", "Zanzibar bananas are cheap everywhere."),
    )

    own = candidate(again, anna.line)
    assert own.reason == "by the same writer, whose words are no tie"
    assert own.score == 0.15  # the proximity bonus two levels up, nothing for "zanzibar"
