"""Turning fetched database rows into export rows: labels parsed and shared, majorities
counted once per combination, people named or pseudonymised, the card's counts collected.

``RowBuilder`` is the half of ``rows.RowSource`` that builds rows; the other half (the
querysets and the streams, ``rows.py``) sets the state it works on in ``RowSource.__init__``
and hands it chunks of fetched tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime

from annotator.datasets.majority import final_answers, majority_answers
from annotator.datasets.reading import fetch_rows, id_list
from annotator.datasets.records import INTERN_LIMIT, AnnotationRow, CommentRow, GoldRow
from annotator.labelling.models import Annotation
from annotator.review.models import GoldLabel

SUBMITTED = Annotation.Status.SUBMITTED
_NO_STALE: dict[str, dict[str, Any]] = {}  # shared by every annotation without stale answers


class Pseudonyms:
    """``prefix-1``, ``prefix-2``, ... handed out in order of first request."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self._names: dict[Any, str] = {}

    def __call__(self, key: Any) -> str:
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"{self.prefix}-{len(self._names) + 1}"
        return name

    def __len__(self) -> int:
        return len(self._names)


class RowBuilder:
    """Builds ``CommentRow``s from fetched tuples (the building half of ``rows.RowSource``)."""

    def annotator_label(self, annotator_id: int) -> str:
        """How this export names an annotator outside the rows (the agreement figures): the
        same pseudonym as in the rows when pseudonymised (call it after streaming them)."""
        if self.pseudonymise:
            return self._annotator_pseudonyms(annotator_id)
        self._learn_names([annotator_id])
        return self._annotator_names.get(annotator_id, str(annotator_id))

    def _learn_names(self, user_ids: Iterable[int]) -> None:
        """Remember the usernames of ``user_ids`` not known yet (one query when there are
        any; none when pseudonymised, where real names are never read)."""
        if self.pseudonymise:
            return
        missing = set(user_ids) - self._annotator_names.keys()
        if missing:
            User = get_user_model()
            self._annotator_names.update(
                User.objects.filter(pk__in=missing).values_list("pk", User.USERNAME_FIELD)
            )

    # --- Building rows
    #
    # Labels repeat: many annotations carry the same answers, many comments the same set of
    # answers. So answers are parsed once per distinct JSON text, the majority is counted
    # once per distinct combination of answers, and the card's distributions are tallied by
    # those texts and folded in at the end (``_fold_tallies``). Each table holds at most
    # ``INTERN_LIMIT`` entries, so memory stays flat; past it, rows are worked out one by one.

    def _fetch_annotations(self, comment_ids: list[int]) -> list[tuple]:
        """The submitted annotations of a chunk of comments as fetched, by comment and
        annotator (one query; another when annotators' names are new)."""
        if not comment_ids:
            return []
        rows = (
            Annotation.objects.filter(
                comment_id__in=id_list(comment_ids, connection.vendor), status=SUBMITTED
            )
            .order_by("comment_id", "annotator_id")
            .values_list(
                "comment_id",
                "annotator_id",
                Cast("answers", TextField()),
                "scheme_id",
                Cast("answered_under", TextField()),
                "time_spent_ms",
                "created_at",
                "updated_at",
                "submitted_at",
                "flagged",
                "note",
                Cast("stale_answers", TextField()),
            )
        )
        raw = fetch_rows(rows)
        self._learn_names(row[1] for row in raw)
        return raw

    def _annotations_by_comment(self, raw: list[tuple]) -> dict[int, list[tuple]]:
        """Fetched annotations (``_fetch_annotations``) as rows, by comment id: each is
        ``(annotator id, AnnotationRow, answers JSON text)``."""
        labels_of = self._labels_of
        by_comment: dict[int, list[tuple]] = {}
        labels: list[tuple] = []
        current = None
        for (
            comment_id,
            annotator_id,
            answers_json,
            scheme_id,
            under_json,
            spent,
            created,
            updated,
            submitted,
            flagged,
            note,
            stale_json,
        ) in raw:
            known = labels_of.get((answers_json, under_json, scheme_id))
            if known is None:
                known = self._parse_labels(answers_json, under_json, scheme_id)
            answers, version, under = known
            annotation = AnnotationRow(
                "",  # named in tree order by _row, so pseudonyms number by first appearance
                answers,
                version,
                under,
                spent,
                created,
                updated,
                submitted,
                flagged,
                note,
                _NO_STALE if stale_json == "{}" else self._stale(stale_json),
            )
            if comment_id != current:  # rows come by comment: each comment's list once
                current = comment_id
                labels = by_comment[comment_id] = []
            labels.append((annotator_id, annotation, answers_json))
        return by_comment

    def _stale(self, text: str | None) -> dict[str, dict[str, Any]]:
        """An annotation's stale answers to the chosen questions, as exported (rare: most
        annotations have none, and share one empty dict)."""
        if not text or text == "{}":
            return _NO_STALE
        stale = {}
        for key, entry in orjson.loads(text).items():
            if key not in self._key_set:
                continue
            at = entry.get("marked_stale_at")
            stale[key] = {
                "value": entry.get("value"),
                "answered_toward_parent": entry.get("parent_source_id"),
                "marked_stale_at": parse_datetime(at) if isinstance(at, str) else None,
            }
        return stale or _NO_STALE

    def _gold_of(self, comment_ids: list[int]) -> dict[int, GoldRow]:
        """The gold labels of a chunk of comments, by comment id (one query, two when
        reviewers' names are new)."""
        if not comment_ids:
            return {}
        rows = GoldLabel.objects.filter(
            comment_id__in=id_list(comment_ids, connection.vendor)
        ).values_list(
            "comment_id",
            Cast("answers", TextField()),
            "method",
            "decided_by_id",
            "decided_at",
            "scheme_id",
        )
        raw = fetch_rows(rows)
        self._learn_names(row[3] for row in raw if row[3] is not None)
        names = self._annotator_names
        versions = self._scheme_versions
        golds = {}
        for comment_id, answers_json, method, reviewer_id, decided_at, scheme_id in raw:
            answers = self._parsed_answers.get(answers_json)
            if answers is None:
                answers = self._parse_answers(answers_json)
            if reviewer_id is None:
                reviewer = ""
            elif self.pseudonymise:
                reviewer = self._reviewer_pseudonyms(reviewer_id)
            else:
                reviewer = names.get(reviewer_id, "")
            golds[comment_id] = GoldRow(
                answers, method, reviewer, decided_at, versions.get(scheme_id, 0)
            )
        return golds

    def _parse_answers(self, text: str) -> dict[str, Any]:
        """The answers in ``text`` to the chosen questions (shared: never mutate it)."""
        answers = orjson.loads(text)
        if not self._key_set.issuperset(answers):
            answers = {k: answers[k] for k in self.question_keys if k in answers}
        if len(self._parsed_answers) < INTERN_LIMIT:
            self._parsed_answers[text] = answers
        return answers

    def _parse_labels(
        self, answers_text: str, under_text: str, scheme_id: int
    ) -> tuple[dict[str, Any], int, dict[str, int]]:
        """An annotation's answers, scheme version and the version each answer was given
        under, restricted to the chosen questions (shared: never mutate them)."""
        answers = self._parsed_answers.get(answers_text)
        if answers is None:
            answers = self._parse_answers(answers_text)
        under = orjson.loads(under_text)
        if under.keys() != answers.keys():
            under = {k: under[k] for k in answers if k in under}
        version = self._scheme_versions.get(scheme_id, 0)
        self.stats.scheme_versions.update(under.values())
        self.stats.scheme_versions.add(version)
        labels = (answers, version, under)
        if len(self._labels_of) < INTERN_LIMIT:
            self._labels_of[(answers_text, under_text, scheme_id)] = labels
        return labels

    def _row(
        self,
        raw: tuple,
        labels: Sequence[tuple],
        gold: GoldRow | None = None,
        context: bool = False,
    ) -> CommentRow:
        """The exported row of one fetched comment, its annotations
        (``_annotations_by_comment``) and its gold (``_gold_of``)."""
        pk, article_pk, parent_id, source_id, depth, position, author, text, posted, meta = raw[:10]
        article_id = self._article_ids[article_pk]
        split = self._splits.get(article_id)
        if self.pseudonymise:
            author = self._author_pseudonyms(author) if author else ""
            meta = "{}"
        row = CommentRow(
            pk,
            article_pk,
            article_id,
            source_id,
            parent_id,
            depth,
            position,
            author,
            text,
            posted,
            meta,
            split,
            context,
            [],
            self._no_votes,  # shared by every unlabelled row: never mutated
        )
        stats = self.stats
        if context:
            stats.context_comments += 1
            row.majority = {}
            return row
        stats.comments += 1
        if split:
            stats.split_comments[split] += 1
        if gold is not None:
            row.gold = gold
            stats.add_gold(gold)
        if not labels:
            if self.gold_only and gold is not None:
                row.final = self._gold_answers(gold)
            elif self.final:
                row.final = final_answers(self._no_votes, gold.answers) if gold else self._no_final
            return row
        annotations = row.annotations
        name = self._annotator_pseudonyms if self.pseudonymise else self._annotator_names.get
        answer_tally = self._answer_tally
        annotators = stats.annotators
        for annotator_id, annotation, answers_json in labels:
            annotation.annotator = name(annotator_id)
            annotations.append(annotation)
            annotators.add(annotation.annotator)
            if answers_json in answer_tally:
                answer_tally[answers_json] += 1
            elif len(answer_tally) < INTERN_LIMIT and answers_json in self._parsed_answers:
                answer_tally[answers_json] = 1
            else:
                stats.add_answers(annotation.answers)
        stats.labelled_comments += 1
        if len(labels) > 1:
            self.agreement.add(depth, [(annotator_id, text) for annotator_id, _, text in labels])
        stats.annotations += len(annotations)
        # With labels=final, gold answers override the majority: such rows are worked out and
        # counted one by one; the rest share one memo entry per combination of answers. With
        # labels=gold the card counts gold answers (stats.gold), not majorities.
        overridden = gold is not None and self.final and not self.gold_only
        counted = not overridden and not self.gold_only
        key = tuple([answers_json for _, _, answers_json in labels])
        known = self._majorities.get(key)
        if known is None:
            majority = majority_answers(self._tallies, annotations)
            final = final_answers(majority) if self.final else None
            if len(self._majorities) < INTERN_LIMIT:
                self._majorities[key] = (majority, final)
                self._majority_tally[key] = 0
            elif counted:
                stats.add_majority(majority, final)
        else:
            majority, final = known
        if counted and key in self._majority_tally:
            self._majority_tally[key] += 1
        if self.gold_only:
            final = self._gold_answers(gold) if gold is not None else self._no_final
        elif overridden:
            final = final_answers(majority, gold.answers)
            stats.add_majority(majority, final)
        row.majority = majority
        row.final = final
        return row

    def _gold_answers(self, gold: GoldRow) -> dict[str, Any]:
        """Every chosen question's gold answer (``None`` where the reviewer gave none)."""
        return {key: gold.answers.get(key) for key in self.question_keys}

    def _fold_tallies(self) -> None:
        """Add the distributions tallied by label text to ``stats`` (end of the stream)."""
        stats = self.stats
        for answers_json, times in self._answer_tally.items():
            stats.add_answers(self._parsed_answers[answers_json], times)
        for key, times in self._majority_tally.items():
            majority, final = self._majorities[key]
            stats.add_majority(majority, final, times)
        self._answer_tally.clear()
        self._majority_tally.clear()
