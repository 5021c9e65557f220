"""LLM runs against a local OpenAI-compatible stub (llm_runs.py): no network."""

from __future__ import annotations

import json
import socket
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.assist import llm_runs
from annotator.assist.llm_prompt import PROMPT_VERSION
from annotator.assist.models import MachineLabeller, Prediction, PredictionFailure, PredictionRun
from annotator.assist.runs import run_prediction_run
from annotator.labelling.models import Guidelines
from tests.assist.openai_stub import OpenAIStub, Reply
from tests.factories import ArticleFactory, make_comment, make_model, make_prediction

pytestmark = pytest.mark.django_db

KEY = "sk-test-do-not-store-4242"
GOOD = json.dumps({"answers": {"speculation": "certain"}, "confidences": {"speculation": 0.75}})


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setenv("STUB_LLM_KEY", KEY)
    monkeypatch.setattr(llm_runs, "BACKOFF_BASE", 0.02)


def llm_model(project, base_url: str, name: str = "llm", **config) -> MachineLabeller:
    settings = {"base_url": base_url, "model": "tiny", "api_key_env": "STUB_LLM_KEY"}
    return make_model(project, name, kind=MachineLabeller.Kind.LLM, config=settings | config)


def run_over(model: MachineLabeller, **options) -> PredictionRun:
    run = PredictionRun.objects.create(
        project=model.project, labeller=model, kind=PredictionRun.Kind.LLM, options=options
    )
    run_prediction_run(run.pk)
    run.refresh_from_db()
    return run


def comments(project, count: int) -> list:
    article = ArticleFactory(project=project)
    return [make_comment(article) for _ in range(count)]


def test_a_run_stores_each_comments_answers_with_the_prompt_version_and_raw_reply(project):
    article = ArticleFactory(project=project, title="Ceasefire holds")
    top = make_comment(article, text="It will not last.")
    reply = make_comment(article, parent=top, text="It has lasted a week.")
    Guidelines.objects.update_or_create(project=project, defaults={"text": "Label the main claim."})
    with OpenAIStub(lambda body, n: Reply(GOOD)) as stub:
        run = run_over(llm_model(project, stub.base_url))

    assert (run.status, run.done, run.failed, run.requests, run.total) == ("succeeded", 2, 0, 2, 2)
    assert run.prompt_version == PROMPT_VERSION
    stored = Prediction.objects.filter(labeller=run.labeller).order_by("comment_id")
    assert [(p.comment_id, p.answer, p.confidence) for p in stored] == [
        (top.pk, "certain", 0.75),
        (reply.pk, "certain", 0.75),
    ]
    assert all(p.prompt_version == PROMPT_VERSION and p.raw_response == GOOD for p in stored)
    [sent] = [r.body for r in stub.requests if "a week" in r.body["messages"][1]["content"]]
    assert sent["model"] == "tiny" and sent["response_format"]["type"] == "json_schema"
    assert "Label the main claim." in sent["messages"][0]["content"]
    assert json.loads(sent["messages"][1]["content"])["replies_to"] == ["It will not last."]
    assert stub.requests[0].authorization == f"Bearer {KEY}"


def test_invalid_replies_become_failures_with_the_raw_text_never_predictions(project):
    comments(project, 2)
    replies = {1: "The stance is deny.", 2: '{"answers": {"speculation": "very"}}'}
    with OpenAIStub(lambda body, n: Reply(replies[n])) as stub:
        run = run_over(llm_model(project, stub.base_url, concurrency=1))

    assert (run.status, run.done, run.failed) == ("succeeded", 2, 2)
    assert not Prediction.objects.exists()
    failures = {f.raw_response: f.reason for f in PredictionFailure.objects.filter(run=run)}
    assert failures["The stance is deny."].startswith("The reply is not JSON")
    assert "not a choice: very" in failures['{"answers": {"speculation": "very"}}']


def test_a_429_is_retried_after_the_wait_the_server_asks_for(project):
    comments(project, 1)

    def limited(body, n):
        return (
            Reply("slow down", status=429, headers={"Retry-After": "0.3"})
            if n == 1
            else Reply(GOOD)
        )

    with OpenAIStub(limited) as stub:
        run = run_over(llm_model(project, stub.base_url))

    assert (run.status, run.done, run.failed, run.requests) == ("succeeded", 1, 0, 2)
    assert stub.requests[1].at - stub.requests[0].at >= 0.3
    assert Prediction.objects.count() == 1


def test_500s_are_retried_with_growing_backoff_then_given_up_as_a_failure(project):
    comments(project, 1)
    with OpenAIStub(lambda body, n: Reply("boom", status=500)) as stub:
        run = run_over(llm_model(project, stub.base_url))

    assert (run.status, run.done, run.failed, run.requests) == ("succeeded", 1, 1, 5)
    gaps = [b.at - a.at for a, b in zip(stub.requests, stub.requests[1:], strict=False)]
    assert gaps[-1] > gaps[0]  # 0.01-0.02 s, then up to 0.08-0.16 s
    assert PredictionFailure.objects.get().reason == "The endpoint answered 500 5 times."


def test_a_500_then_a_good_answer_stores_the_prediction(project):
    comments(project, 1)
    with OpenAIStub(lambda body, n: Reply("boom", status=502) if n < 3 else Reply(GOOD)) as stub:
        run = run_over(llm_model(project, stub.base_url))

    assert (run.done, run.failed, run.requests, len(stub.requests)) == (1, 0, 3, 3)
    assert Prediction.objects.count() == 1


def test_the_request_cap_stops_the_run_cleanly_and_the_run_says_so(project):
    comments(project, 5)
    with OpenAIStub(lambda body, n: Reply(GOOD)) as stub:
        run = run_over(llm_model(project, stub.base_url, request_cap=2, concurrency=1))

    assert (run.status, run.requests, run.done, run.total) == ("succeeded", 2, 2, 5)
    assert len(stub.requests) == 2
    assert run.report["note"].startswith("Stopped at the cap of 2 requests: 3 comments")
    assert Prediction.objects.count() == 2


def test_the_run_keeps_exactly_the_configured_number_of_requests_in_flight(project):
    comments(project, 16)
    with OpenAIStub(lambda body, n: Reply(GOOD, delay=0.1)) as stub:
        run = run_over(llm_model(project, stub.base_url, concurrency=4))

    assert run.done == 16
    assert stub.max_in_flight == 4


def test_a_missing_key_fails_the_run_naming_the_variable_and_sends_nothing(project, monkeypatch):
    monkeypatch.delenv("STUB_LLM_KEY")
    comments(project, 1)
    with OpenAIStub() as stub:
        run = run_over(llm_model(project, stub.base_url))

    assert run.status == "failed"
    assert "STUB_LLM_KEY" in run.error and "not set" in run.error
    assert stub.requests == []


def test_a_refused_key_fails_the_run_without_showing_the_key(project):
    comments(project, 3)
    with OpenAIStub(lambda b, n: Reply(f"Incorrect API key provided: {KEY}", status=401)) as stub:
        run = run_over(llm_model(project, stub.base_url, concurrency=1))

    assert run.status == "failed"
    assert "refused the API key in STUB_LLM_KEY (401)" in run.error
    assert KEY not in run.error
    assert len(stub.requests) == 1  # no retries of a refused key, no further comments


def test_an_unreachable_endpoint_fails_the_run_clearly(project):
    comments(project, 2)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    run = run_over(llm_model(project, f"http://127.0.0.1:{port}/v1", concurrency=1))

    assert run.status == "failed"
    assert run.error.startswith(f"Could not reach the endpoint at http://127.0.0.1:{port}/v1")


def test_the_key_is_never_stored_in_the_database(project):
    comments(project, 2)
    with OpenAIStub(lambda b, n: Reply(GOOD if n == 1 else f"echo {KEY}", status=200)) as stub:
        run_over(llm_model(project, stub.base_url, concurrency=1))
    with OpenAIStub(lambda b, n: Reply(f"bad key {KEY}", status=401)) as stub:
        run_over(llm_model(project, stub.base_url, name="refused"))

    dump = StringIO()
    call_command("dumpdata", "assist", stdout=dump)
    assert "STUB_LLM_KEY" in dump.getvalue()
    assert KEY not in dump.getvalue().replace(f"echo {KEY}", "")  # the model's reply, kept


def test_an_endpoint_without_json_schema_support_is_asked_in_words(project):
    comments(project, 2)

    def no_schema(body, n):
        if "response_format" in body:
            return Reply("response_format json_schema is not supported", status=400)
        return Reply(GOOD)

    with OpenAIStub(no_schema) as stub:
        run = run_over(llm_model(project, stub.base_url, concurrency=1))

    assert (run.done, run.failed) == (2, 0)
    assert ["response_format" in r.body for r in stub.requests] == [True, False, False]


def test_unlabelled_skips_comments_this_model_has_answered_and_limit_bounds_the_run(project):
    done, *rest = comments(project, 4)
    with OpenAIStub(lambda b, n: Reply(GOOD)) as stub:
        model = llm_model(project, stub.base_url)
        make_prediction(model, done, "speculation", "uncertain")
        run = run_over(model, which="unlabelled", limit=2)

    assert run.total == 2
    assert set(Prediction.objects.filter(labeller=model).values_list("comment_id", flat=True)) == {
        done.pk,
        rest[0].pk,
        rest[1].pk,
    }


def test_a_thread_run_labels_only_that_threads_comments(project):
    comments(project, 2)
    other = comments(project, 3)
    with OpenAIStub(lambda b, n: Reply(GOOD)) as stub:
        run = run_over(
            llm_model(project, stub.base_url), which="thread", thread=other[0].article_id
        )

    assert run.total == 3
    assert set(Prediction.objects.values_list("comment_id", flat=True)) == {c.pk for c in other}


def test_a_run_costs_the_same_queries_for_five_comments_as_for_fifty(project, monkeypatch):
    # Heartbeats also write every second; on a slow machine that adds writes by the clock.
    monkeypatch.setattr(llm_runs, "BEAT_EVERY", 60.0)

    def queries(count: int) -> int:
        comments(project, count)
        with OpenAIStub(lambda b, n: Reply(GOOD)) as stub:
            model = llm_model(project, stub.base_url, concurrency=8)
            with CaptureQueriesContext(connection) as captured:
                run_over(model, which="unlabelled")
        Prediction.objects.all().delete()
        MachineLabeller.objects.all().delete()
        return len(captured)

    assert queries(5) == queries(50)


def test_a_request_that_times_out_is_retried_then_kept_as_a_failure(project):
    comments(project, 1)
    with OpenAIStub(lambda body, n: Reply(GOOD, delay=0.3)) as stub:
        run = run_over(llm_model(project, stub.base_url, timeout=0.05))

    assert (run.status, run.failed, run.requests) == ("succeeded", 1, 5)
    assert PredictionFailure.objects.get().reason == (
        "The endpoint did not answer within 0.05 s, 5 times."
    )


def test_a_run_stops_sending_once_it_is_no_longer_running(project, monkeypatch):
    """The reaper (or anyone) failing the run makes beat() return False: the run stops."""
    comments(project, 40)
    real_beat = llm_runs.beat
    beats = []

    def beat_then_reaped(run, **progress):
        beats.append(progress)
        if len(beats) == 2:  # after the first batch is written
            PredictionRun.objects.filter(pk=run.pk).update(status="failed", error="Reaped.")
        return real_beat(run, **progress)

    monkeypatch.setattr(llm_runs, "beat", beat_then_reaped)
    monkeypatch.setattr(llm_runs, "WRITE_BATCH", 2)
    with OpenAIStub(lambda body, n: Reply(GOOD)) as stub:
        run = run_over(llm_model(project, stub.base_url, concurrency=1))

    assert (run.status, run.error) == ("failed", "Reaped.")
    assert len(stub.requests) < 10
