"""A small labelled corpus for the export tests: two threads, answers from two annotators."""

from annotator.corpus.models import Project, Role
from annotator.labelling.annotations import Submission, save_annotation
from annotator.labelling.schemes import current_scheme_for
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    UserFactory,
    make_comment,
    make_gold_label,
)


def make_labelled_corpus(project: Project, comments_per_thread: int = 3) -> dict:
    """Two articles with ``comments_per_thread`` comments each (the second answers the first);
    two annotators submit answers for the first two comments of the first thread."""
    scheme = current_scheme_for(project)
    annotators = []
    for name in ("lab_one", "lab_two"):
        user = UserFactory(username=f"{project.slug}_{name}")
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        annotators.append(user)
    threads = []
    for index in range(2):
        article = ArticleFactory(project=project, title=f"Thread {index + 1}")
        first = make_comment(article, author="Rami", text="The ceasefire will hold.")
        comments = [first, make_comment(article, parent=first, author="Lina", text="Doubt it.")]
        comments += [
            make_comment(article, author=f"reader {n}") for n in range(comments_per_thread - 2)
        ]
        threads.append((article, comments))
    for user in annotators:
        for comment in threads[0][1][:2]:
            save_annotation(
                comment=comment,
                annotator=user,
                scheme=scheme,
                submission=Submission(
                    answers=COMPLETE_REPLY if comment.parent_id else COMPLETE_TOP_LEVEL
                ),
                base_revision=0,
                action="submit",
            )
    return {"annotators": annotators, "threads": threads}


# One factory for gold labels (tests/factories.py); the export tests know it by this name.
make_gold = make_gold_label


def make_moved_reply(project: Project):
    """A reply ("r-1", to "t-1") submitted by zoe and adam, then moved to the article: both
    stay submitted, their stance toward "t-1" set aside. Returns (reply, zoe, adam)."""
    article = ArticleFactory(project=project, source_id="moved")
    top = make_comment(article, source_id="t-1")
    reply = make_comment(article, parent=top, source_id="r-1")
    people = [UserFactory(username=name) for name in ("zoe", "adam")]
    for user, stance in zip(people, ("deny", "support"), strict=True):
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        save_annotation(
            comment=reply,
            annotator=user,
            scheme=current_scheme_for(project),
            submission=Submission(answers={**COMPLETE_REPLY, "stance_parent": stance}),
            base_revision=0,
            action="submit",
        )
    reply.move_under(None)
    return reply, *people
