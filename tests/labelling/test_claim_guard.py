"""The per-comment guard: many annotators claiming at once never take a comment past k."""

import threading

import pytest
from django.conf import settings
from django.db import connections

from annotator.labelling.assignment import claim_next
from annotator.labelling.models import Annotation, Claim
from tests.factories import ArticleFactory, ProjectFactory, make_thread
from tests.labelling.test_assignment import act, people

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
CLIENTS = 32


@pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="needs PostgreSQL: SQLite serialises every write, so nothing runs concurrently",
)
@pytest.mark.django_db(transaction=True)
def test_32_annotators_flat_out_never_take_a_comment_more_than_k_times():
    """No barriers: every client claims and submits as fast as it can, in one small project
    (so they meet on the same comments), until the queue is empty for everyone."""
    project = ProjectFactory(annotators_per_comment=2)
    k = project.annotators_per_comment
    comments = [
        comment for _ in range(3) for comment in make_thread(ArticleFactory(project=project), 20)
    ]
    annotators = people(project, CLIENTS)
    handed: dict[int, set[int]] = {}
    errors: list[BaseException] = []
    record = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def work(annotator):
        try:
            start.wait(timeout=60)
            comment = claim_next(annotator, project)
            while comment is not None:
                with record:
                    handed.setdefault(comment.pk, set()).add(annotator.pk)
                assert act(comment, annotator).ok
                comment = claim_next(annotator, project, after=comment)
        except BaseException as error:
            errors.append(error)
            start.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    over_handed = [pk for pk, who in handed.items() if len(who) > k]
    assert over_handed == [], f"{len(over_handed)} of {len(comments)} comments handed to > k"
    takers: dict[int, set[int]] = {}
    for comment_id, annotator_id in [
        *Annotation.objects.filter(project=project).values_list("comment_id", "annotator_id"),
        *Claim.objects.filter(project=project).values_list("comment_id", "annotator_id"),
    ]:
        takers.setdefault(comment_id, set()).add(annotator_id)
    assert max(map(len, takers.values())) <= k
    labels = dict.fromkeys((c.pk for c in comments), 0)
    for comment_id in Annotation.objects.filter(
        project=project, status=Annotation.Status.SUBMITTED
    ).values_list("comment_id", flat=True):
        labels[comment_id] += 1
    assert set(labels.values()) == {k}  # and nothing was left behind
    assert not Claim.objects.exists()
