"""What a second (or third) process of the app does in the shared-cache tests.

Run by ``tests/review/test_computed_once.py`` through ``manage.py shell -c`` (production
settings, the test database, the test's Redis prefix in ``CACHE_URL``/``CACHE_KEY_PREFIX``):

    from tests.review.figures_process import main; main()

``FIGURES_ACTION`` says what to do with project ``FIGURES_PROJECT``, and the last line of the
output is a JSON object saying what came of it:

* ``agreement``, ``dashboard``, ``queue``: the agreement report (through
  ``cached_agreement_report``), the dashboard page's figures (``read_dashboard``), or the review
  queue (``review_state``); each computation from scratch adds one to the cache key
  ``computations`` (and takes ``FIGURES_SLOW`` seconds more, so that processes overlap).
  With ``FIGURES_BARRIER`` set the process first waits until that many have arrived.
* ``save``: annotator ``FIGURES_USER`` submits ``FIGURES_ANSWERS`` (JSON) for comment
  ``FIGURES_COMMENT`` through ``save_annotation``, as the workspace does.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from django.core.cache import caches

COUNTER = "computations"
BARRIER = "barrier"


def digest(value: object) -> str:
    """A short fingerprint of figures, compared across processes."""
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def counted(function, slow: float):
    """``function``, adding one to the shared ``COUNTER`` per call (and ``slow`` seconds)."""

    def wrapper(*args, **kwargs):
        caches["default"].add(COUNTER, 0, None)
        caches["default"].incr(COUNTER)
        time.sleep(slow)
        return function(*args, **kwargs)

    return wrapper


def wait_at_barrier(parties: int) -> None:
    cache = caches["default"]
    cache.add(BARRIER, 0, None)
    cache.incr(BARRIER)
    deadline = time.monotonic() + 60
    while cache.get(BARRIER, 0) < parties:
        if time.monotonic() > deadline:
            raise SystemExit("the other processes never came")
        time.sleep(0.01)


def main() -> None:
    from annotator.corpus.models import Comment, Project
    from annotator.review import measures, queue

    action = os.environ["FIGURES_ACTION"]
    project = Project.objects.get(pk=int(os.environ["FIGURES_PROJECT"]))
    slow = float(os.environ.get("FIGURES_SLOW", "0"))
    measures.AgreementTallies.report = counted(measures.AgreementTallies.report, slow)
    queue._score_all = counted(queue._score_all, slow)
    if os.environ.get("FIGURES_BARRIER"):
        wait_at_barrier(int(os.environ["FIGURES_BARRIER"]))
    result: dict[str, object] = {}
    if action == "agreement":
        result["figures"] = digest(measures.cached_agreement_report(project, resamples=50))
    elif action == "dashboard":
        from annotator.review.dashboard import annotator_totals, read_dashboard

        scheme = measures.current_scheme(project)
        people = annotator_totals(project)
        page = read_dashboard(project, scheme=scheme, people=people, resamples=50)
        result["figures"] = digest([row.result for row in page.agreement.rows])
    elif action == "queue":
        state = queue.review_state(project)
        result["queue"] = [[item.comment_id, item.reason] for item in state.queue]
    elif action == "save":
        from django.contrib.auth import get_user_model

        from tests.factories import save_from_current_revision

        comment = Comment.objects.select_related("article__project").get(
            pk=int(os.environ["FIGURES_COMMENT"])
        )
        user = get_user_model().objects.get(pk=int(os.environ["FIGURES_USER"]))
        answers = json.loads(os.environ["FIGURES_ANSWERS"])
        saved = save_from_current_revision(comment, user, answers, action="submit")
        result["saved"] = saved.ok
    else:
        raise SystemExit(f"unknown FIGURES_ACTION {action!r}")
    print(json.dumps(result), flush=True)
