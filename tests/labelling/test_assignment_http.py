"""Sharing work out through the real views: eight annotators at once over HTTP (test client).

tests/labelling/test_assignment.py calls ``claim_next`` directly; this goes through what a
browser does: the session and authentication middleware, ``label_start`` handing a comment
out, and the save view submitting it and claiming the next one in the same request.
"""

import re
import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.models import Role
from annotator.labelling.models import Annotation, Claim
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_thread,
)

ON_POSTGRESQL = connection.vendor == "postgresql"  # the PgBouncer backend too
ANNOTATORS = 8
COMMENTS = 60
K = 2
WORKSPACE = re.compile(r"/label/(\d+)/$")

pytestmark = [
    pytest.mark.skipif(
        not ON_POSTGRESQL,
        reason="needs PostgreSQL: SQLite serialises every write transaction, so requests "
        "never overlap and there is no concurrency to test",
    ),
    pytest.mark.django_db(transaction=True),
]


def comment_in(location: str) -> int:
    """The comment id of a workspace URL (a redirect's Location or HX-Push-Url)."""
    found = WORKSPACE.search(location)
    assert found, f"not a workspace URL: {location!r}"
    return int(found.group(1))


def test_eight_annotators_over_http_never_get_a_comment_more_than_k_times():
    project = ProjectFactory(annotators_per_comment=K)
    comments = make_thread(ArticleFactory(project=project), COMMENTS)
    is_reply = {c.pk: c.parent_id is not None for c in comments}
    annotators = [UserFactory() for _ in range(ANNOTATORS)]
    for user in annotators:
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    start_url = reverse("labelling:start", args=[project.slug])

    handed: dict[int, set[int]] = {}  # from the responses: comment -> who was handed it
    finished: set[int] = set()
    most_takers = [0]
    errors: list[BaseException] = []
    record = threading.Lock()

    def count_takers() -> None:
        """Between rounds, while every client waits: live claims + submitted labels."""
        live = Claim.objects.filter(project=project, expires_at__gt=timezone.now())
        submitted = Annotation.objects.filter(project=project, status=Annotation.Status.SUBMITTED)
        per_comment: dict[int, set[int]] = {}
        for rows in (live, submitted):
            for comment_id, annotator_id in rows.values_list("comment_id", "annotator_id"):
                per_comment.setdefault(comment_id, set()).add(annotator_id)
        most_takers[0] = max([most_takers[0], *map(len, per_comment.values())])
        connections.close_all()

    before = threading.Barrier(ANNOTATORS)  # every client sends at the same moment
    after = threading.Barrier(ANNOTATORS, action=count_takers)

    def hand(comment_id: int, user) -> None:
        with record:
            handed.setdefault(comment_id, set()).add(user.pk)

    def work(user) -> None:
        client = Client()
        client.force_login(user)
        current = None  # the comment on screen; None: ask /label/ for one
        try:
            while True:
                before.wait(timeout=120)
                if user.pk not in finished:
                    if current is None:
                        response = client.get(start_url)
                        if response.status_code == 302:
                            current = comment_in(response["Location"])
                            hand(current, user)
                        else:
                            assert response.status_code == 200
                            assert "Nothing left to label" in response.content.decode()
                            with record:
                                finished.add(user.pk)
                    else:
                        answers = COMPLETE_REPLY if is_reply[current] else COMPLETE_TOP_LEVEL
                        response = client.post(
                            reverse("labelling:save", args=[project.slug, current]),
                            {**answers, "action": "submit", "revision": 0},
                            headers={"HX-Request": "true"},
                        )
                        if response.status_code == 204:  # nothing waiting: back to /label/
                            assert response["HX-Redirect"] == start_url
                            current = None
                        else:
                            assert response.status_code == 200, response.content[:300]
                            current = comment_in(response["HX-Push-Url"])
                            hand(current, user)
                after.wait(timeout=120)
                if len(finished) == ANNOTATORS:  # read by all after the same barrier
                    return
        except BaseException as error:
            errors.append(error)
            before.abort()
            after.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(user,)) for user in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not [e for e in errors if not isinstance(e, threading.BrokenBarrierError)], errors
    assert not errors
    over = {pk: len(who) for pk, who in handed.items() if len(who) > K}
    assert over == {}, f"{len(over)} of {COMMENTS} comments handed to more than {K} people"
    assert most_takers[0] <= K
    labels = dict.fromkeys(is_reply, 0)
    for comment_id in Annotation.objects.filter(
        project=project, status=Annotation.Status.SUBMITTED
    ).values_list("comment_id", flat=True):
        labels[comment_id] += 1
    assert set(labels.values()) == {K}  # every comment got exactly k labels, none more
    assert {pk: len(who) for pk, who in handed.items()} == labels
    assert not Claim.objects.exists()
