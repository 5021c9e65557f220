"""A rich project for the archive tests: one of every archived row, ids inside JSON, a
moved comment with its history, people who are members and people who only wrote rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from annotator.assist.models import PredictionFailure, PredictionRun
from annotator.corpus.models import Comment, DeletedArticle, DiscardedImport, Project, Role
from annotator.labelling.models import Guidelines, LabelScheme, ParentReport
from annotator.review.gold import save_gold
from annotator.review.models import GoldLabel
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    label_in_bulk,
    make_label,
    make_model,
    make_prediction,
    make_thread,
    save_from_current_revision,
)

MEMBERS = {"ada_admin": Role.ADMIN, "ann_one": Role.ANNOTATOR, "rev_one": Role.REVIEWER}
# Names on rows who are no members (any more): an annotator who left, an external source.
AUTHORS_ONLY = ["former_annotator", "ext:PHEME"]


def rich_project(slug: str = "rich", comments_per_article: int = 14) -> Project:
    """A project with non-default settings and every kind of archived row."""
    project = ProjectFactory(
        slug=slug,
        name="Rich project",
        description="Everything an archive holds.",
        annotators_per_comment=3,
        work_order="shuffled",
        claim_minutes=45,
        created_at=datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
    )
    people = {}
    for name, role in MEMBERS.items():
        people[name] = UserFactory(username=name)
        MembershipFactory(project=project, user=people[name], role=role)
    for name in AUTHORS_ONLY:
        people[name] = UserFactory(username=name, is_active=name != "ext:PHEME")
    admin, ann, rev = people["ada_admin"], people["ann_one"], people["rev_one"]

    first = LabelScheme.objects.get(project=project, version=1)
    LabelScheme.objects.create(
        project=project, version=2, definition=first.definition, created_by=admin
    )
    Guidelines.objects.filter(project=project).update(
        text="# Guidelines\n\nBe *kind*. ünïcødé", updated_by=admin
    )

    articles = [
        ArticleFactory(
            project=project,
            source_id=f"art-{i}",
            url=f"https://example.org/{i}",
            source="Outlet",
            published_at=datetime(2024, 1, 1 + i, tzinfo=UTC),
            meta={"section": "world", "tags": ["a", i]},
            lowest_confidence=0.25 + i / 10,
        )
        for i in range(2)
    ]
    threads = [make_thread(article, comments_per_article) for article in articles]
    Comment.objects.filter(pk=threads[0][1].pk).update(meta={"score": 7, "nested": {"x": 1.5}})

    # Saves through the app: annotations with their history.
    top, reply = threads[0][0], threads[0][1]
    save_from_current_revision(top, ann, COMPLETE_TOP_LEVEL, action="submit")
    save_from_current_revision(reply, ann, COMPLETE_REPLY, action="submit", note="a note")
    save_from_current_revision(reply, admin, {"stance_article": "deny"}, action="autosave")
    # Rows of people who are not members.
    for comment in threads[1][:6]:
        make_label(comment, people["former_annotator"], COMPLETE_TOP_LEVEL)
        make_label(comment, people["ext:PHEME"], {"stance_article": "query"}, status="draft")
    labeller = make_model(project, config={"base_url": "https://llm.example", "t": 0.2})
    make_model(project, name="learner", kind="learner", orders_work=True)
    for comment in threads[0][:8]:
        make_prediction(labeller, comment, "stance_article", "support", confidence=0.75)
    run = PredictionRun.objects.create(project=project, labeller=labeller, kind="llm")
    PredictionFailure.objects.create(
        labeller=labeller, run=run, comment=top, reason="not JSON", raw_response="{oops"
    )
    # Ids inside JSON: a suggestion names its model, a stale answer its former parent.
    make_label(
        threads[0][2],
        rev,
        COMPLETE_REPLY,
        suggestions={
            "stance_article": {"model": labeller.pk, "label": "stance-bert@1", "answer": "x"}
        },
        stale_answers={
            "stance_parent": {"value": "deny", "parent_id": top.pk, "parent_source_id": "c-0"}
        },
    )
    save_gold(top, COMPLETE_TOP_LEVEL, rev, revision=0, note="settled")
    save_gold(top, {**COMPLETE_TOP_LEVEL, "claim_type": "factual"}, rev, revision=1)
    GoldLabel.objects.filter(comment=top).update(needs_review=True)
    # A move: the reply's stance toward its parent is set aside, with a REPARENT event.
    moved = Comment.objects.get(pk=reply.pk)
    moved.move_under(Comment.objects.get(pk=threads[0][12].pk), actor=admin)
    ParentReport.objects.create(
        project=project,
        comment=threads[0][5],
        reported_by=ann,
        suggested_parent=threads[0][3],
        note="answers the other one",
        status="fixed",
        resolved_by=admin,
        resolved_at=datetime(2024, 6, 1, tzinfo=UTC),
    )
    ParentReport.objects.create(
        project=project, comment=threads[0][6], reported_by=None, suggests_article=True
    )
    DeletedArticle.objects.create(
        project=project, title="Gone", source_id="art-x", comments=3, deleted_by=admin
    )
    DiscardedImport.objects.create(
        project=project,
        original_name="dump.jsonl",
        format="jsonl",
        total_bytes=10,
        uploaded_by=ann,
        uploaded_at=datetime(2024, 2, 2, tzinfo=UTC) + timedelta(microseconds=7),
        discarded_by=admin,
        discarded_by_name="ada_admin",
    )
    return project


def big_project(slug: str, comments: int) -> Project:
    """A plain project of ``comments`` comments (threads of 500), two labels each."""
    project = ProjectFactory(slug=slug)
    people = [UserFactory(username=f"{slug}-{i}") for i in range(2)]
    for start in range(0, comments, 500):
        article = ArticleFactory(project=project, source_id=f"{slug}-{start}")
        thread = make_thread(article, min(500, comments - start))
        label_in_bulk(thread, people, lambda i, c, a: {"stance_article": "support"})
    return project
