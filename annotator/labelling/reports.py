"""Reports of comments attached to the wrong parent, and the admins' one-step fixes.

Importers reconstruct reply trees, and some guesses are wrong. An annotator who notices it
while labelling files a ``ParentReport`` saying what the comment really answers (a comment,
the article itself, or "don't know"); a project admin then re-parents the comment, which
closes every open report on it, or dismisses the report. The tree itself is only ever
changed through ``Comment.move_under``, so reports add no second way of breaking it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotator.corpus.models import PATH_SEGMENT_WIDTH, Comment, Project
from annotator.labelling.models import ParentReport

ARTICLE = "article"  # a suggestion meaning "it answers the article itself"
KEEP = "keep"  # a resolution meaning "the tree is already right: close, move nothing"
NOTE_LENGTH = ParentReport._meta.get_field("note").max_length
RECENTLY_RESOLVED = 50  # closed reports shown under the open ones

Suggestion = Comment | Literal["article"] | None


class ParentReportError(Exception):
    """A report or a fix that would break the tree or makes no sense; nothing was written."""


def parent_candidates(comment: Comment, limit: int = 5) -> list[Comment]:
    """The comments most likely to be what ``comment`` really answers, likeliest first.

    The grandparent comes first (a reply often lands one level too deep), then the nearest
    comments above it in thread order. The current parent is left out, and so is the
    comment's own subtree, which sorts after it. Two index-backed queries on
    ``(article, path)`` at most, whatever the thread's size.
    """
    if limit <= 0:
        return []
    width = PATH_SEGMENT_WIDTH
    parent_path = comment.path[:-width] if comment.depth >= 1 else None
    grandparent_path = comment.path[: -2 * width] if comment.depth >= 2 else None
    thread = Comment.objects.filter(article_id=comment.article_id)
    candidates: list[Comment] = []
    if grandparent_path:
        candidates.extend(thread.filter(path=grandparent_path)[:1])
    above = thread.filter(path__lt=comment.path).exclude(
        path__in=[p for p in (parent_path, grandparent_path) if p]
    )
    candidates.extend(above.order_by("-path")[: limit - len(candidates)])
    return candidates


def _check_suggestion(comment: Comment, suggestion: Suggestion) -> tuple[Comment | None, bool]:
    """``(suggested_parent, suggests_article)`` for a suggestion, or ParentReportError."""
    if suggestion is None:
        return None, False
    if suggestion == ARTICLE:
        if comment.parent_id is None:
            raise ParentReportError("This comment already answers the article.")
        return None, True
    if not isinstance(suggestion, Comment):
        raise ParentReportError(f"Unknown suggestion {suggestion!r}.")
    if suggestion.article_id != comment.article_id:
        raise ParentReportError("A comment can only answer a comment of the same article.")
    if suggestion.path.startswith(comment.path):
        raise ParentReportError("A comment cannot answer itself or one of its own replies.")
    if suggestion.pk == comment.parent_id:
        raise ParentReportError("That is the comment it already answers.")
    return suggestion, False


def report_wrong_parent(
    comment: Comment, reporter: AbstractBaseUser, suggestion: Suggestion, note: str = ""
) -> ParentReport:
    """Record that ``comment`` hangs under the wrong parent, and what it answers instead.

    ``suggestion`` is a comment, ``"article"`` or None (don't know). A person has at most one
    open report per comment: reporting again replaces their suggestion and note, so a
    second thought does not show up as a second report.
    """
    suggested_parent, suggests_article = _check_suggestion(comment, suggestion)
    note = note.strip()
    if len(note) > NOTE_LENGTH:
        raise ParentReportError(f"The note is longer than {NOTE_LENGTH} characters.")
    with transaction.atomic():
        report = (
            ParentReport.objects.select_for_update()
            .filter(comment=comment, reported_by=reporter, status=ParentReport.Status.OPEN)
            .order_by("created_at")
            .first()
        )
        if report is None:
            return ParentReport.objects.create(
                project_id=comment.article.project_id,
                comment=comment,
                reported_by=reporter,
                suggested_parent=suggested_parent,
                suggests_article=suggests_article,
                note=note,
            )
        report.suggested_parent = suggested_parent
        report.suggests_article = suggests_article
        report.note = note
        report.save(update_fields=["suggested_parent", "suggests_article", "note"])
        return report


@dataclass(frozen=True)
class Resolution:
    """What fixing a report did: the comment as it now stands, and how many reports closed."""

    comment: Comment
    moved: bool
    closed: int


def resolve_report(
    report: ParentReport,
    user: AbstractBaseUser,
    new_parent: Comment | Literal["keep"] | None,
) -> Resolution:
    """Re-parent the reported comment (None: it answers the article) and close its reports.

    Every open report on the comment is marked fixed, not only this one: once the tree is
    right they all are answered. ``"keep"`` closes them without moving anything (someone
    already fixed the tree). A refused move (a cycle, another article) raises
    ParentReportError and changes nothing.
    """
    if isinstance(new_parent, str) and new_parent != KEEP:
        raise ParentReportError(f"Unknown parent {new_parent!r}.")
    with transaction.atomic():
        # Lock the comment's open reports so two admins cannot fix the same one twice.
        open_ids = list(
            ParentReport.objects.select_for_update()
            .filter(comment_id=report.comment_id, status=ParentReport.Status.OPEN)
            .values_list("pk", flat=True)
        )
        if report.pk not in open_ids:
            raise ParentReportError("This report was already closed.")
        comment = Comment.objects.get(pk=report.comment_id)  # fresh path: it may have moved
        moved = False
        if new_parent != KEEP:
            if new_parent is not None:
                new_parent = Comment.objects.get(pk=new_parent.pk)
            if (new_parent.pk if new_parent else None) != comment.parent_id:
                try:
                    comment.move_under(new_parent, actor=user)
                except ValueError as error:
                    raise ParentReportError(str(error)) from error
                moved = True
        closed = ParentReport.objects.filter(pk__in=open_ids).update(
            status=ParentReport.Status.FIXED, resolved_by=user, resolved_at=timezone.now()
        )
    return Resolution(comment=comment, moved=moved, closed=closed)


def dismiss_report(report: ParentReport, user: AbstractBaseUser) -> None:
    """Close one report without touching the tree (the admin thinks the parent is right).

    Other people's reports on the same comment stay open: they may have seen something else.
    """
    # One conditional UPDATE: a report closed a moment ago by another admin stays as it is.
    closed = ParentReport.objects.filter(pk=report.pk, status=ParentReport.Status.OPEN).update(
        status=ParentReport.Status.DISMISSED, resolved_by=user, resolved_at=timezone.now()
    )
    if not closed:
        raise ParentReportError("This report was already closed.")
    report.refresh_from_db(fields=["status", "resolved_by", "resolved_at"])


def _with_comments(reports: QuerySet[ParentReport]) -> QuerySet[ParentReport]:
    return reports.select_related(
        "comment__article",
        "comment__parent",
        "suggested_parent",
        "reported_by",
        "resolved_by",
    )


def open_reports(project: Project) -> QuerySet[ParentReport]:
    """A project's open reports, those on the same comment together, in thread order."""
    reports = project.parent_reports.filter(status=ParentReport.Status.OPEN)
    return _with_comments(reports).order_by(
        "comment__article_id", "comment__path", "created_at", "pk"
    )


def recently_resolved(project: Project, limit: int = RECENTLY_RESOLVED) -> QuerySet[ParentReport]:
    """The project's last ``limit`` fixed or dismissed reports, newest first."""
    closed = project.parent_reports.exclude(status=ParentReport.Status.OPEN)
    return _with_comments(closed).order_by("-resolved_at", "-pk")[:limit]
