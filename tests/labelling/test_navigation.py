"""Previous/next and the progress bar: right across threads, and constant in project size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.labelling.assignment import claim_next
from annotator.labelling.navigation import neighbours_of, progress_for
from tests.factories import ArticleFactory, ProjectFactory, make_thread
from tests.labelling.test_assignment import people


def test_neighbours_cross_into_the_nearest_thread_with_comments(project):
    first = make_thread(ArticleFactory(project=project), 3)
    ArticleFactory(project=project)  # no comments: passed over
    make_thread(ArticleFactory(project=ProjectFactory()), 2)  # another project's
    last = make_thread(ArticleFactory(project=project), 2)
    first.sort(key=lambda c: c.path)
    last.sort(key=lambda c: c.path)
    assert neighbours_of(first[0], project) == (None, first[1].pk)
    assert neighbours_of(first[-1], project) == (first[-2].pk, last[0].pk)
    assert neighbours_of(last[0], project) == (first[-1].pk, last[1].pk)
    assert neighbours_of(last[-1], project) == (last[0].pk, None)


@pytest.mark.django_db
def test_claim_neighbours_and_progress_cost_the_same_queries_at_100_and_2000_comments():
    counts = []
    for size in (100, 2000):
        project = ProjectFactory()
        threads = [make_thread(ArticleFactory(project=project), size // 4) for _ in range(4)]
        (me,) = people(project, 1)
        middle = sorted(threads[1], key=lambda c: c.path)[size // 8]
        with CaptureQueriesContext(connection) as claim:
            assert claim_next(me, project, after=middle) is not None
        with CaptureQueriesContext(connection) as neighbours:
            neighbours_of(middle, project)
        progress_for(me, project, timezone.now())  # the project's counts, counted once
        with CaptureQueriesContext(connection) as bar:
            progress = progress_for(me, project, timezone.now())
        assert progress.total == size
        counts.append((len(claim), len(neighbours), len(bar)))
    assert counts[0] == counts[1]
    assert counts[0][1:] == (
        1,
        1,
    )  # previous/next: one query; the bar: their own labels and the counts
