"""Labels from outside the tool (a peer's Label Studio or doccano export, the gold labels of
PHEME, RumourEval and DAST) imported as annotations by named external annotators.

Three steps, so that an admin sees everything before anything is written:

1. **Read** (``external_label_sources.read_label_file``): the file becomes rows of
   (comment source id [+ article source id], source annotator, source field, value).
2. **Preview** (``preview_labels``, read-only): rows are matched to the project's comments
   by source id (the article's id decides when a source id is in several articles; without
   one such a row is *ambiguous* and reported); every distinct (field, value) is counted
   and given its default target from ``DEFAULT_MAPPING`` (the table in docs/scheme.md),
   kept only when the project's current scheme has that question and choice.
3. **Apply** (``apply_labels``, one transaction, bulk): the admin's mapping (the defaults,
   changed where they chose) turns each (comment, source annotator) into answers under the
   current scheme. Rows whose values are all unmapped, unknown comments and ambiguous ids
   are reported, never imported; an unmapped value is never guessed.

External annotators are ``User`` rows named ``ext:<source annotator>`` (``ext:PHEME``,
``ext:labelstudio:alice@example.org``) that cannot log in: inactive, with an unusable
password, and no membership in any project (so they are in no team list and no queue). A
person's username cannot contain ``:`` (Django's username validator), so the names never
collide with a person's. Agreement and exports read submitted annotations whoever wrote
them, so an external annotator is compared and exported like anyone.

Their annotations are *submitted*, answered under the current scheme version, and each
write keeps an ``AnnotationEvent`` of kind ``import`` (actor: the admin who confirmed), so
the history says where a label came from. They count toward a comment's submitted labels
(``label_counts``) like any other: a team re-labelling a corpus with two people per comment
sets ``annotators_per_comment`` to 3.

Re-importing a file updates in place: an annotation whose imported answers are unchanged is
left alone; one whose answers differ takes the new answers to the questions the file maps
(others are kept), with a history event. An annotation of an external annotator that was
last changed by anything but an import (an admin's edit through the shell or the admin) is
never overwritten: it is counted as *kept* and reported.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotator.corpus.models import Comment, Project
from annotator.labelling.external_label_sources import LabelFile
from annotator.labelling.label_counts import forget
from annotator.labelling.models import (
    Annotation,
    AnnotationEvent,
    CommentLabelCount,
    LabelScheme,
)
from annotator.labelling.scheme import Kind, Scheme, clean_answers
from annotator.labelling.schemes import current_scheme_for

EXTERNAL_PREFIX = "ext:"
LOOKUP_BATCH = 500  # source ids per IN (...) query
SHOWN_IDS = 5  # unknown or ambiguous ids listed by name; the rest only counted
MAX_LABEL_FILE_BYTES = 200 * 1024 * 1024  # read whole (see external_label_sources.py)

_STANCE_VALUES = {
    # RumourEval, and this tool's own names
    "support": "support",
    "deny": "deny",
    "query": "query",
    "comment": "comment",
    # PHEME response types
    "agreed": "support",
    "disagreed": "deny",
    "appeal-for-more-information": "query",
    # DAST (SDQC)
    "supporting": "support",
    "denying": "deny",
    "querying": "query",
    "commenting": "comment",
}
_CERTAINTY_VALUES = {
    "certain": "certain",
    "somewhat-certain": "somewhat_certain",
    "uncertain": "uncertain",
    "underspecified": "not_applicable",
}
_EVIDENTIALITY_VALUES = {
    "first-hand-experience": "first_hand",
    "first-hand": "first_hand",
    "witnessed": "first_hand",
    "url-given": "link",
    "url": "link",
    "url-pointing-to-evidence": "link",
    "quotation-person-organization": "named_source",
    "quotation-person-organisation": "named_source",
    "quotation-of-person-or-organization": "named_source",
    "quotation-of-person-or-organisation": "named_source",
    "source-quoted": "named_source",
    "quotation-unverifiable-source": "unnamed_source",
    "quotation-of-unverifiable-source": "unnamed_source",
    "unverifiable-source-quoted": "unnamed_source",
    "attachment-of-picture": "media",
    "picture-attached": "media",
    "reasoning": "reasoning",
    "employment-of-reasoning": "reasoning",
    "no-evidence": "none",
}
# Source field (normalised) -> (question key, {source value (normalised): choice value}).
# The table in docs/scheme.md, "Mapping to public corpora". Values not listed
# ("underspecified" evidentiality, RumourEval's veracity, PHEME's source-tweet "support")
# have no default.
DEFAULT_MAPPING: dict[str, tuple[str, dict[str, str]]] = {
    "stance": ("stance_article", _STANCE_VALUES),
    "responsetype-vs-source": ("stance_article", _STANCE_VALUES),
    "sdqc-submission": ("stance_article", _STANCE_VALUES),
    "responsetype-vs-previous": ("stance_parent", _STANCE_VALUES),
    "sdqc-parent": ("stance_parent", _STANCE_VALUES),
    "certainty": ("speculation", _CERTAINTY_VALUES),
    "evidentiality": ("source_cited", _EVIDENTIALITY_VALUES),
}

Target = tuple[str, str]  # (question key, choice value)
ValueKey = tuple[str, str]  # (source field, source value) as in the file


def normalise(text: str) -> str:
    """A field or value as the mapping table writes it: lower case, runs of spaces, ``_``
    and ``-`` as one ``-`` (``SDQC_Submission`` -> ``sdqc-submission``)."""
    return re.sub(r"[\s_-]+", "-", text.strip().lower())


def default_target(scheme: Scheme, source_field: str, value: str) -> Target | None:
    """Where (field, value) goes by default in ``scheme``, or None (left unmapped).

    The table first; then a field named like a question of the scheme whose value names
    one of its choices (a peer's Label Studio ``from_name="stance_article"``): the same
    names, not a guess. A target the scheme does not have is no default.
    """
    field_key, value_key = normalise(source_field), normalise(value)
    entry = DEFAULT_MAPPING.get(field_key)
    if entry is not None:
        question_key, values = entry
        answer = values.get(value_key)
        if answer is not None and _offers(scheme, question_key, answer):
            return question_key, answer
        return None
    question = scheme.question(field_key.replace("-", "_"))
    if question is not None and question.kind != Kind.TEXT:
        answer = value_key.replace("-", "_")
        for choice in question.choices:
            if choice.value.replace("-", "_") == answer:
                return question.key, choice.value
    return None


def _offers(scheme: Scheme, question_key: str, answer: str) -> bool:
    question = scheme.question(question_key)
    return question is not None and question.kind != Kind.TEXT and answer in question.values


def scheme_targets(scheme: Scheme) -> list[tuple[str, str, str]]:
    """Every (question key, choice value, label) a value can be mapped to, in scheme order."""
    return [
        (question.key, choice.value, f"{question.title}: {choice.label}")
        for question in scheme.questions
        if question.kind != Kind.TEXT
        for choice in question.choices
    ]


def parse_target(text: str, scheme: Scheme) -> Target | None:
    """``question=answer`` (a form's select, the command's ``--map``) as a target, None for
    ``""`` or ``-`` (unmapped); ``ValueError`` when the scheme has no such choice."""
    text = text.strip()
    if text in ("", "-"):
        return None
    question_key, sep, answer = text.partition("=")
    if not sep or not _offers(scheme, question_key.strip(), answer.strip()):
        raise ValueError(f"{text!r} is no question=choice of the project's scheme")
    return question_key.strip(), answer.strip()


# --- Preview ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ValueCount:
    """One distinct (field, value) of the file: how many rows, and where it goes by default."""

    field: str
    value: str
    count: int
    default: Target | None

    @property
    def key(self) -> ValueKey:
        return (self.field, self.value)


@dataclass(slots=True)
class _Match:
    comment_pk: int
    depth: int


@dataclass
class LabelPreview:
    """What a label file would import into a project, before the admin confirms."""

    filename: str
    file: LabelFile
    scheme: LabelScheme
    values: list[ValueCount]
    annotators: dict[str, int]  # source annotator -> rows
    matched: dict[tuple[str, str | None], _Match]  # (comment id, article id) -> comment
    matched_comments: int
    unknown: list[str]  # comment ids not in the project (in file order, distinct)
    ambiguous: list[str]  # comment ids in several articles, the file naming none

    @property
    def defaults(self) -> dict[ValueKey, Target | None]:
        return {value.key: value.default for value in self.values}

    def lines(self) -> list[str]:
        """The preview as text: the command prints it, tests read it."""
        out = [
            f"{self.filename}: {self.file.label}, {len(self.file.rows):,} labels",
            "Annotators: "
            + ", ".join(
                f"{EXTERNAL_PREFIX}{name} ({count:,})" for name, count in self.annotators.items()
            ),
            f"Comments: {self.matched_comments:,} matched, {len(self.unknown):,} not in the "
            f"project{_some(self.unknown)}, {len(self.ambiguous):,} ambiguous"
            f"{_some(self.ambiguous)}",
            "Mapping:",
        ]
        for value in self.values:
            target = "UNMAPPED" if value.default is None else "=".join(value.default)
            out.append(f"  {value.field}={value.value} ({value.count:,}) -> {target}")
        out += self.file.notices()
        return out


def _some(ids: list[str]) -> str:
    if not ids:
        return ""
    more = f", … {len(ids) - SHOWN_IDS:,} more" if len(ids) > SHOWN_IDS else ""
    return " (" + ", ".join(ids[:SHOWN_IDS]) + more + ")"


def preview_labels(project: Project, label_file: LabelFile, filename: str) -> LabelPreview:
    """Match ``label_file``'s rows to ``project``'s comments and count its values (no writes,
    one query per ``LOOKUP_BATCH`` distinct comment ids)."""
    scheme_row = current_scheme_for(project)
    scheme = scheme_row.scheme
    counts = Counter((row.field, row.value) for row in label_file.rows)
    values = [ValueCount(f, v, n, default_target(scheme, f, v)) for (f, v), n in counts.items()]
    values.sort(key=lambda value: normalise(value.field))  # a field's values together
    annotators = Counter(row.annotator for row in label_file.rows)
    refs = list(dict.fromkeys((row.comment_id, row.article_id) for row in label_file.rows))
    found = _comments_by_source_id(project, {comment_id for comment_id, _ in refs})
    matched: dict[tuple[str, str | None], _Match] = {}
    unknown: list[str] = []
    ambiguous: list[str] = []
    for comment_id, article_id in refs:
        candidates = found.get(comment_id, {})
        if article_id is not None and article_id in candidates:
            matched[(comment_id, article_id)] = candidates[article_id]
        elif len(candidates) == 1:
            # The article named is not the one the comment is in (a re-keyed thread): the
            # comment id alone is unique in the project, so it is the comment.
            matched[(comment_id, article_id)] = next(iter(candidates.values()))
        elif candidates:
            ambiguous.append(comment_id)
        else:
            unknown.append(comment_id)
    return LabelPreview(
        filename=filename,
        file=label_file,
        scheme=scheme_row,
        values=values,
        annotators=dict(annotators),
        matched=matched,
        matched_comments=len({match.comment_pk for match in matched.values()}),
        unknown=list(dict.fromkeys(unknown)),
        ambiguous=list(dict.fromkeys(ambiguous)),
    )


def _comments_by_source_id(
    project: Project, source_ids: Iterable[str]
) -> dict[str, dict[str, _Match]]:
    ids = sorted(source_ids)
    found: dict[str, dict[str, _Match]] = defaultdict(dict)
    for start in range(0, len(ids), LOOKUP_BATCH):
        rows = Comment.objects.filter(
            article__project=project, source_id__in=ids[start : start + LOOKUP_BATCH]
        ).values_list("source_id", "article__source_id", "pk", "depth")
        for source_id, article_id, pk, depth in rows:
            found[source_id][article_id] = _Match(pk, depth)
    return found


# --- Apply -----------------------------------------------------------------------------------


@dataclass
class AnnotatorResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class LabelImportResult:
    """What an import wrote and what it left out, for the summary page and the command."""

    annotators: dict[str, AnnotatorResult] = field(default_factory=dict)
    unmapped: dict[ValueKey, int] = field(default_factory=dict)  # rows left out per value
    unknown: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    kept: int = 0  # annotations changed outside imports, left as they were
    conflicting: int = 0  # answers dropped: one annotator gave one question two values
    not_asked: int = 0  # answers dropped: the question is not asked of that comment

    @property
    def imported(self) -> int:
        return sum(r.created + r.updated for r in self.annotators.values())

    def as_data(self) -> dict:
        """The result as JSON data, kept on the ``LabelImport`` row for its summary page."""
        return {
            "imported": self.imported,
            "annotators": [
                {"name": EXTERNAL_PREFIX + name, **vars(counts)}
                for name, counts in self.annotators.items()
            ],
            "unmapped": [
                {"field": f, "value": v, "count": n} for (f, v), n in self.unmapped.items()
            ],
            "unknown": len(self.unknown),
            "unknown_ids": self.unknown[:SHOWN_IDS],
            "ambiguous": len(self.ambiguous),
            "ambiguous_ids": self.ambiguous[:SHOWN_IDS],
            "kept": self.kept,
            "conflicting": self.conflicting,
            "not_asked": self.not_asked,
        }

    def lines(self) -> list[str]:
        out = [f"Imported {self.imported:,} annotations."]
        for name, counts in self.annotators.items():
            out.append(
                f"  {EXTERNAL_PREFIX}{name}: {counts.created:,} new, {counts.updated:,} "
                f"updated, {counts.unchanged:,} unchanged"
            )
        for (source_field, value), count in self.unmapped.items():
            out.append(f"Unmapped, not imported: {source_field}={value} ({count:,})")
        if self.unknown:
            out.append(f"Comments not in the project: {len(self.unknown):,}{_some(self.unknown)}")
        if self.ambiguous:
            out.append(
                f"Comment ids in several articles (the file names none): "
                f"{len(self.ambiguous):,}{_some(self.ambiguous)}"
            )
        if self.kept:
            out.append(f"Kept as they were (changed since they were imported): {self.kept:,}")
        if self.conflicting:
            out.append(f"Answers left out (two values for one question): {self.conflicting:,}")
        if self.not_asked:
            out.append(f"Answers left out (question not asked of that comment): {self.not_asked:,}")
        return out


def external_annotator(name: str):
    """The user standing for source annotator ``name``: created inactive, unable to log in."""
    User = get_user_model()
    username = (EXTERNAL_PREFIX + name)[: User._meta.get_field(User.USERNAME_FIELD).max_length]
    user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
    if user is None:
        user = User(**{User.USERNAME_FIELD: username}, is_active=False)
        user.set_unusable_password()
        user.save()
    return user


def is_external(user: Any) -> bool:
    """Whether ``user`` stands for an annotator outside the tool."""
    return user.get_username().startswith(EXTERNAL_PREFIX) and not user.has_usable_password()


def apply_labels(
    preview: LabelPreview,
    mapping: Mapping[ValueKey, Target | None] | None = None,
    *,
    actor=None,
) -> LabelImportResult:
    """Write the preview's labels as annotations under ``mapping`` (the defaults where it
    says nothing); all in one transaction. Returns what was written and left out."""
    targets = preview.defaults
    if mapping:
        targets.update({key: value for key, value in mapping.items() if key in targets})
    scheme_row = preview.scheme
    scheme = scheme_row.scheme
    result = LabelImportResult(unknown=preview.unknown, ambiguous=preview.ambiguous)
    answers_of: dict[tuple[str, int], dict[str, list[str]]] = {}
    notes_of: dict[tuple[str, int], list[str]] = defaultdict(list)
    depth_of: dict[int, int] = {}
    for row in preview.file.rows:
        match = preview.matched.get((row.comment_id, row.article_id))
        if match is None:
            continue
        target = targets.get((row.field, row.value))
        if target is None:
            result.unmapped[(row.field, row.value)] = (
                result.unmapped.get((row.field, row.value), 0) + 1
            )
            continue
        key = (row.annotator, match.comment_pk)
        depth_of[match.comment_pk] = match.depth
        values = answers_of.setdefault(key, {}).setdefault(target[0], [])
        if target[1] not in values:
            values.append(target[1])
        if row.detail:
            notes_of[key].append(row.detail)
    wanted: dict[tuple[str, int], dict[str, Any]] = {}
    for key, raw in answers_of.items():
        answers = _answers(scheme, raw, is_reply=depth_of[key[1]] > 0, result=result)
        if answers:
            wanted[key] = answers
    with transaction.atomic():
        _write(preview, scheme_row, wanted, notes_of, result, actor)
    return result


def _answers(
    scheme: Scheme, raw: dict[str, list[str]], *, is_reply: bool, result: LabelImportResult
) -> dict[str, Any]:
    """One annotator's mapped values for one comment as answers the scheme accepts."""
    shaped: dict[str, Any] = {}
    for key, values in raw.items():
        question = scheme.question(key)
        if question.kind == Kind.MULTIPLE:
            shaped[key] = values
        elif len(values) == 1:
            shaped[key] = values[0]
        else:
            result.conflicting += 1
    answers, errors = clean_answers(scheme, shaped, is_reply=is_reply)
    result.conflicting += len(errors)
    result.not_asked += len(shaped.keys() - answers.keys() - errors.keys())
    return answers


def _write(
    preview: LabelPreview,
    scheme_row: LabelScheme,
    wanted: dict[tuple[str, int], dict[str, Any]],
    notes_of: dict[tuple[str, int], list[str]],
    result: LabelImportResult,
    actor,
) -> None:
    project_id = scheme_row.project_id
    now = timezone.now()
    users = {name: external_annotator(name) for name in preview.annotators}
    for name in preview.annotators:
        result.annotators[name] = AnnotatorResult()
    by_user = {user.pk: name for name, user in users.items()}
    comment_pks = {pk for _name, pk in wanted}
    existing = {
        (by_user[a.annotator_id], a.comment_id): a
        for a in Annotation.objects.filter(
            annotator_id__in=by_user, comment_id__in=comment_pks
        ).select_related("scheme")
    }
    last_kind = dict(
        AnnotationEvent.objects.filter(annotation__in=[a.pk for a in existing.values()])
        .values("annotation")
        .annotate(last=Max("id"))
        .values_list("annotation", "last")
    )
    kinds = dict(
        AnnotationEvent.objects.filter(pk__in=last_kind.values()).values_list("pk", "kind")
    )
    created: list[Annotation] = []
    updated: list[tuple[Annotation, dict, bool]] = []
    version = scheme_row.version
    for (name, comment_pk), answers in wanted.items():
        note = "; ".join(dict.fromkeys(notes_of.get((name, comment_pk), [])))
        annotation = existing.get((name, comment_pk))
        if annotation is None:
            created.append(
                Annotation(
                    project_id=project_id,
                    comment_id=comment_pk,
                    annotator=users[name],
                    scheme=scheme_row,
                    answers=answers,
                    answered_under=dict.fromkeys(answers, version),
                    status=Annotation.Status.SUBMITTED,
                    note=note,
                    created_at=now,
                    updated_at=now,
                    submitted_at=now,
                )
            )
            result.annotators[name].created += 1
            continue
        if kinds.get(last_kind.get(annotation.pk)) != AnnotationEvent.Kind.IMPORT:
            result.kept += 1
            continue
        merged = {**annotation.answers, **answers}
        if (
            merged == annotation.answers
            and annotation.status == Annotation.Status.SUBMITTED
            and (not note or note == annotation.note)
        ):
            result.annotators[name].unchanged += 1
            continue
        before = annotation.snapshot()
        was_submitted = annotation.status == Annotation.Status.SUBMITTED
        annotation.answers = merged
        annotation.answered_under = {**annotation.answered_under, **dict.fromkeys(answers, version)}
        annotation.scheme = scheme_row
        annotation.status = Annotation.Status.SUBMITTED
        annotation.note = note or annotation.note
        annotation.revision += 1
        annotation.updated_at = now
        annotation.submitted_at = annotation.submitted_at or now
        updated.append((annotation, before, was_submitted))
        result.annotators[name].updated += 1
    Annotation.objects.bulk_create(created, batch_size=500)
    if updated:
        Annotation.objects.bulk_update(
            [a for a, _b, _s in updated],
            [
                "answers",
                "answered_under",
                "scheme",
                "status",
                "note",
                "revision",
                "updated_at",
                "submitted_at",
            ],
            batch_size=500,
        )
    written = [(a, None) for a in created] + [(a, before) for a, before, _s in updated]
    events = [
        AnnotationEvent(
            annotation=a,
            actor=actor,
            at=now,
            kind=AnnotationEvent.Kind.IMPORT,
            revision=a.revision,
            before=before,
            after=a.snapshot(),
        )
        for a, before in written
    ]
    AnnotationEvent.objects.bulk_create(events, batch_size=500)
    newly_submitted = [a.comment_id for a in created] + [
        a.comment_id for a, _b, was in updated if not was
    ]
    _count_submitted(project_id, newly_submitted)


def _count_submitted(project_id: int, comment_pks: list[int]) -> None:
    """Add the new submitted annotations to their comments' counts (``label_counts``), in
    bulk, and drop the project's count of full comments: the next reader recounts it."""
    if not comment_pks:
        return
    added = Counter(comment_pks)
    old = dict(
        CommentLabelCount.objects.filter(comment_id__in=added).values_list(
            "comment_id", "submitted"
        )
    )
    CommentLabelCount.objects.bulk_create(
        [
            CommentLabelCount(comment_id=pk, project_id=project_id, submitted=old.get(pk, 0) + n)
            for pk, n in added.items()
        ],
        update_conflicts=True,
        unique_fields=["comment"],
        update_fields=["submitted"],
        batch_size=500,
    )
    forget(project_id)
