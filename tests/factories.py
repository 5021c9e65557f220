"""Factories for the corpus models: build what a test needs, nothing more."""

import factory
from django.contrib.auth import get_user_model

from annotator.corpus.models import Article, Comment, Membership, Project, Role, path_segment

PASSWORD = "correct horse battery staple"

# Every required question of the default scheme answered, for a top-level comment and for a
# reply (which also has a stance toward its parent).
COMPLETE_TOP_LEVEL = {
    "stance_article": "support",
    "claim_type": "opinion",
    "speculation": "certain",
    "source_cited": ["none"],
}
COMPLETE_REPLY = {**COMPLETE_TOP_LEVEL, "stance_parent": "deny"}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(PASSWORD)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    project = factory.SubFactory(ProjectFactory)
    source_id = factory.Sequence(lambda n: f"article-{n}")
    title = factory.Sequence(lambda n: f"Article {n}")
    body = "First paragraph.\n\nSecond paragraph."


def make_comment(article: Article, parent: Comment | None = None, **fields) -> Comment:
    """Save a comment as the last reply of ``parent`` (or of the article), path and all."""
    siblings = Comment.objects.filter(article=article, parent=parent)
    position = siblings.count() + 1
    fields.setdefault("source_id", f"c-{Comment.objects.filter(article=article).count() + 1}")
    fields.setdefault("text", f"Comment {fields['source_id']}")
    return Comment.objects.create(
        article=article,
        parent=parent,
        position=position,
        depth=parent.depth + 1 if parent else 0,
        path=(parent.path if parent else "") + path_segment(position),
        **fields,
    )


def make_thread(article: Article, size: int, fanout: int = 3) -> list[Comment]:
    """A thread of ``size`` comments, written in bulk: comment i answers comment (i-1)//fanout.

    Comment 0 and every ``fanout``-th comment start a new top-level branch, so the thread is
    both wide and deep, like real ones.
    """
    comments: list[Comment] = []
    child_counts: dict[int | None, int] = {}
    for i in range(size):
        parent_index = None if i % (fanout * 4) == 0 else (i - 1) // fanout
        parent = comments[parent_index] if parent_index is not None else None
        key = parent_index
        child_counts[key] = child_counts.get(key, 0) + 1
        position = child_counts[key]
        comments.append(
            Comment(
                article=article,
                parent=parent,
                source_id=f"c-{i}",
                author=f"author {i % 17}",
                text=f"Comment number {i}",
                position=position,
                depth=parent.depth + 1 if parent else 0,
                path=(parent.path if parent else "") + path_segment(position),
            )
        )
        # Parent ids are needed by the children: save level by level via bulk_create below.
    by_depth: dict[int, list[Comment]] = {}
    for comment in comments:
        by_depth.setdefault(comment.depth, []).append(comment)
    for depth in sorted(by_depth):
        for comment in by_depth[depth]:
            comment.parent_id = comment.parent.pk if comment.parent else None
        Comment.objects.bulk_create(by_depth[depth], batch_size=500)
    return comments


def make_token(user, name: str = "script") -> str:
    """A personal API token for ``user``; returns the key a script would send."""
    from annotator.api.models import ApiToken

    _token, key = ApiToken.objects.create_token(user, name)
    return key


def save_from_current_revision(comment: Comment, user, answers: dict, action="autosave", **extra):
    """A save through ``save_annotation`` from the annotation's current revision, as a browser
    that is up to date sends it (form checks, history and counts included)."""
    from annotator.labelling.annotations import Submission, save_annotation
    from annotator.labelling.models import Annotation
    from annotator.labelling.schemes import current_scheme_for

    stored = Annotation.objects.filter(comment=comment, annotator=user).first()
    return save_annotation(
        comment=comment,
        annotator=user,
        scheme=current_scheme_for(comment.article.project),
        submission=Submission(answers=answers, **extra),
        base_revision=stored.revision if stored else 0,
        action=action,
    )


def make_label(comment: Comment, annotator, answers: dict, status: str = "submitted", **fields):
    """Store one annotator's annotation of ``comment`` as a given status, times and all.

    No form checks and no history (use ``save_annotation`` for those): for exports and
    counts. ``answered_under`` defaults to the current scheme version for every answer;
    ``updated_at`` to now, and ``created_at`` and (when submitted) ``submitted_at`` to it.
    """
    from django.utils import timezone

    from annotator.labelling.label_counts import add_submitted
    from annotator.labelling.models import Annotation
    from annotator.labelling.schemes import current_scheme_for

    project = comment.article.project
    scheme = fields.pop("scheme", None) or current_scheme_for(project)
    now = fields.pop("updated_at", None) or timezone.now()
    fields.setdefault("answered_under", dict.fromkeys(answers, scheme.version))
    fields.setdefault("created_at", now)
    if status == "submitted":
        fields.setdefault("submitted_at", now)
    annotation = Annotation.objects.create(
        project=project,
        comment=comment,
        annotator=annotator,
        scheme=scheme,
        answers=answers,
        status=status,
        updated_at=now,
        **fields,
    )
    # The comment's count of submitted labels, as every write of the app keeps it.
    add_submitted(project.pk, comment.pk, int(status == "submitted"))
    return annotation


def label_in_bulk(comments, annotators, answers_for, *, status: str = "submitted") -> int:
    """Submitted annotations for many comments at once (bulk insert): big exports in tests.

    ``answers_for(index, comment, annotator)`` returns the answers, or None for no annotation.
    Returns how many annotations were written.
    """
    from django.utils import timezone

    from annotator.labelling.label_counts import recount_everything
    from annotator.labelling.models import Annotation
    from annotator.labelling.schemes import current_scheme_for

    if not comments:
        return 0
    project = comments[0].article.project
    scheme = current_scheme_for(project)
    now = timezone.now()
    rows = []
    for index, comment in enumerate(comments):
        for annotator in annotators:
            answers = answers_for(index, comment, annotator)
            if answers is None:
                continue
            rows.append(
                Annotation(
                    project=project,
                    comment_id=comment.pk,
                    annotator=annotator,
                    scheme=scheme,
                    answers=answers,
                    answered_under=dict.fromkeys(answers, scheme.version),
                    status=status,
                    created_at=now,
                    updated_at=now,
                    submitted_at=now if status == "submitted" else None,
                )
            )
    Annotation.objects.bulk_create(rows, batch_size=1000)
    recount_everything(project)  # the label counts, as every write of the app keeps them
    return len(rows)


def make_gold_label(comment: Comment, reviewer, answers: dict, *, method: str = "adjudicated"):
    """A reviewer's gold label for ``comment``, stored as the adjudication page saves it."""
    from django.utils import timezone

    from annotator.labelling.schemes import current_scheme_for
    from annotator.review.models import GoldLabel

    return GoldLabel.objects.create(
        project=comment.article.project,
        comment=comment,
        scheme=current_scheme_for(comment.article.project),
        answers=answers,
        method=method,
        decided_by=reviewer,
        decided_at=timezone.now(),
    )


def make_model(project, name: str = "stance-bert", **fields):
    """A model (``MachineLabeller``) of ``project``: imported predictions unless told."""
    from annotator.assist.models import MachineLabeller

    fields.setdefault("kind", MachineLabeller.Kind.IMPORTED)
    return MachineLabeller.objects.create(project=project, name=name, **fields)


def make_prediction(labeller, comment: Comment, question: str, answer, confidence=None, **fields):
    """One prediction of ``labeller`` for ``comment``, under the current scheme version."""
    from annotator.assist.models import Prediction
    from annotator.labelling.schemes import current_scheme_for

    fields.setdefault("scheme_version", current_scheme_for(labeller.project).version)
    return Prediction.objects.create(
        labeller=labeller,
        comment=comment,
        question=question,
        answer=answer,
        confidence=confidence,
        **fields,
    )
