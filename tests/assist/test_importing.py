"""Importing predictions from JSON Lines: a good file is written, any bad line refuses the
whole file with file, line and reason, and nothing is written then."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.assist import importing
from annotator.assist.importing import PredictionsRefused, import_predictions
from annotator.assist.models import MachineLabeller, Prediction
from annotator.corpus.importers.loader import import_file
from annotator.corpus.models import Article, Comment
from annotator.labelling.models import LabelScheme
from tests.factories import ArticleFactory, make_comment, make_model, make_thread

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def jsonl(*lines) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines
    )


def run(project, content: bytes, filename: str = "predictions.jsonl", **options):
    return import_predictions(project, lambda: io.BytesIO(content), filename=filename, **options)


def refusal(project, content: bytes) -> PredictionsRefused:
    with pytest.raises(PredictionsRefused) as caught:
        run(project, content)
    return caught.value


def line(comment, **fields) -> dict:
    data = {
        "comment_id": comment.pk,
        "model": "roberta-stance",
        "version": "2",
        "answers": {"stance_article": "deny"},
        "confidences": {"stance_article": 0.81},
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def thread(project):
    article = ArticleFactory(project=project, source_id="a-1")
    top = make_comment(article, source_id="c-1")
    reply = make_comment(article, top, source_id="c-2")
    return article, top, reply


def test_a_good_file_writes_each_answer_as_a_prediction_of_a_new_imported_model(project, thread):
    _, top, reply = thread
    content = jsonl(
        line(top),
        line(
            reply,
            answers={"stance_article": "support", "stance_parent": "deny"},
            confidences={"stance_article": 0.6},
        ),
    )

    summary = run(project, content)

    model = MachineLabeller.objects.get(project=project)
    assert (model.name, model.version, model.kind) == ("roberta-stance", "2", "imported")
    assert (summary.predictions, summary.comments) == (3, 2)
    rows = set(Prediction.objects.values_list("comment_id", "question", "answer", "confidence"))
    assert rows == {
        (top.pk, "stance_article", "deny", 0.81),
        (reply.pk, "stance_article", "support", 0.6),
        (reply.pk, "stance_parent", "deny", None),
    }
    scheme = LabelScheme.objects.current_for(project)
    assert set(Prediction.objects.values_list("scheme_version", flat=True)) == {scheme.version}


def test_the_seed_predictions_import_for_every_comment_of_the_seed_thread(project):
    import_file(project, FIXTURES / "seed_thread.txt", fmt="text")
    comments = Comment.objects.filter(article__project=project).count()

    summary = run(project, (FIXTURES / "samples" / "predictions_seed.jsonl").read_bytes())

    assert summary.comments == comments > 10
    assert summary.predictions == 3 * comments
    assert set(Prediction.objects.values_list("question", flat=True)) == {
        "stance_article",
        "claim_type",
        "speculation",
    }


def test_the_broken_sample_is_refused_with_its_lines_and_writes_nothing(project):
    import_file(project, FIXTURES / "seed_thread.txt", fmt="text")

    refused = refusal(project, (FIXTURES / "samples" / "predictions_broken.jsonl").read_bytes())

    assert refused.count >= 5
    assert all(error.line for error in refused.errors)
    assert not Prediction.objects.exists() and not MachineLabeller.objects.exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"comment_id": 1, "model": "m", "answers": {}\n', "malformed JSON"),
        (b"[1, 2]\n", "expected a JSON object, found an array"),
        (b'{"comment_id": 1, "answers": {"stance_article": "deny"}}\n', '"model" must be'),
        (b'{"comment_id": 1, "model": "no spaces", "answers": {}}\n', '"model" must be'),
        (b'{"comment_id": 1, "model": "m", "version": "", "answers": {}}\n', '"version" must'),
        (b'{"model": "m", "answers": {"stance_article": "deny"}}\n', 'missing "comment_id"'),
        (b'{"comment_id": "7", "model": "m", "answers": {}}\n', '"comment_id" must be a positive'),
        (b'{"comment_id": 1, "source_id": "c-1", "model": "m", "answers": {}}\n', "not both"),
        (b'{"comment_id": TOP, "model": "m"}\n', 'missing "answers"'),
        (b'{"comment_id": TOP, "model": "m", "answers": {}}\n', "at least one answer"),
        (b'{"comment_id": TOP, "model": "m", "answers": {"nope": "x"}}\n', "no question 'nope'"),
        (
            b'{"comment_id": TOP, "model": "m", "answers": {"stance_article": "maybe"}}\n',
            "not a choice: maybe",
        ),
        (
            b'{"comment_id": TOP, "model": "m", "answers": {"stance_article": "deny"}, '
            b'"confidences": {"stance_article": 1.5}}\n',
            "must be from 0 to 1",
        ),
        (
            b'{"comment_id": TOP, "model": "m", "answers": {"stance_parent": "deny"}}\n',
            "asked only of replies",
        ),
        (
            b'{"comment_id": TOP, "model": "m", "scheme_version": 9, '
            b'"answers": {"stance_article": "deny"}}\n',
            "no scheme version 9",
        ),
        (b'{"comment_id": 999999, "model": "m", "answers": {"a": 1}}\n', "no comment 999999"),
        (b'{"source_id": "c-9", "model": "m", "answers": {"a": 1}}\n', 'source id "c-9"'),
        (b'{"comment_id": TOP, "model": "m", "colour": "red", "answers": {}}\n', "unknown field"),
        (b"\xff\xfe{}\n", "not UTF-8"),
        (b"id,model\n1,m\n", "looks like CSV"),
        (b"<predictions/>\n", "looks like XML"),
        (b"\n\n", "no predictions"),
        (b"%PDF-1.4 binary", "PDF"),
    ],
    ids=lambda value: value[:30].decode("utf-8", "replace") if isinstance(value, bytes) else None,
)
def test_every_kind_of_bad_line_is_refused_with_its_line_and_reason(
    project, thread, content, reason
):
    _, top, _ = thread
    good = jsonl(line(top))
    bad = content.replace(b"TOP", str(top.pk).encode())

    refused = refusal(project, bad if not bad.startswith(b"{") else good + bad)

    assert reason in str(refused)
    assert refused.errors[0].filename == "predictions.jsonl"
    assert not Prediction.objects.exists() and not MachineLabeller.objects.exists()


def test_a_bad_line_names_its_line_number(project, thread):
    _, top, reply = thread
    content = jsonl(line(top), b"", line(reply, answers={"stance_article": "maybe"}))

    refused = refusal(project, content)

    assert (refused.errors[0].line, refused.count) == (3, 1)
    assert str(refused).startswith("predictions.jsonl, line 3: 'stance_article': not a choice")


def test_a_file_with_many_bad_lines_keeps_the_first_twenty_and_counts_them_all(project, thread):
    _, top, _ = thread
    content = jsonl(line(top), *[b"not json"] * 45)

    refused = refusal(project, content)

    assert refused.count == 45
    assert [error.line for error in refused.errors] == list(range(2, 22))
    assert "45 lines refused" in str(refused)
    assert refused.report()["errors"][0] == {
        "file": "predictions.jsonl",
        "line": 2,
        "reason": refused.errors[0].reason,
    }


def test_a_second_line_for_the_same_comment_and_model_is_refused(project, thread):
    _, top, _ = thread
    content = jsonl(line(top), line(top, answers={"stance_article": "support"}))

    refused = refusal(project, content)

    assert "a second line for comment" in str(refused) and refused.errors[0].line == 2


def test_the_same_comment_may_be_predicted_by_two_models_in_one_file(project, thread):
    _, top, _ = thread

    run(project, jsonl(line(top), line(top, version="3")))

    assert sorted(MachineLabeller.objects.values_list("version", flat=True)) == ["2", "3"]
    assert Prediction.objects.count() == 2


def test_a_comment_of_another_project_is_not_found(project, other_project, thread):
    elsewhere = make_comment(ArticleFactory(project=other_project))

    refused = refusal(project, jsonl(line(elsewhere)))

    assert f"no comment {elsewhere.pk} in this project" in str(refused)


def test_re_importing_a_model_version_replaces_its_answers(project, thread):
    _, top, reply = thread
    run(project, jsonl(line(top), line(reply)))

    run(project, jsonl(line(top, answers={"stance_article": "support"}, confidences=None)))

    assert MachineLabeller.objects.count() == 1
    assert dict(Prediction.objects.values_list("comment_id", "answer")) == {
        top.pk: "support",
        reply.pk: "deny",
    }
    assert Prediction.objects.get(comment=top).confidence is None


def test_importing_into_a_model_that_is_not_an_import_is_refused(project, thread):
    _, top, _ = thread
    make_model(project, "roberta-stance", version="2", kind=MachineLabeller.Kind.LEARNER)

    refused = refusal(project, jsonl(line(top)))

    assert "built-in learner, not imported predictions" in str(refused)
    assert not Prediction.objects.exists()


def test_source_ids_are_resolved_in_the_project_with_the_article_when_not_unique(project, thread):
    _, top, reply = thread
    other = ArticleFactory(project=project, source_id="a-2")
    twin = make_comment(other, source_id="c-1")  # the same source id in another article

    ambiguous = refusal(project, jsonl(line(top, comment_id=None, source_id="c-1")))
    assert 'source id "c-1" is in 2 articles' in str(ambiguous)
    assert 'add "article"' in str(ambiguous)

    run(
        project,
        jsonl(
            line(top, comment_id=None, source_id="c-1", article="a-2"),
            line(reply, comment_id=None, source_id="c-2"),
        ),
    )

    assert set(Prediction.objects.values_list("comment_id", flat=True)) == {twin.pk, reply.pk}
    missing = refusal(project, jsonl(line(top, comment_id=None, source_id="c-2", article="a-2")))
    assert 'no comment with source id "c-2" in article "a-2"' in str(missing)


def test_an_older_scheme_version_may_be_named(project, thread):
    _, top, _ = thread
    current = LabelScheme.objects.current_for(project)
    LabelScheme.objects.create(project=project, version=2, definition=current.definition)

    run(project, jsonl(line(top, scheme_version=1)))

    assert Prediction.objects.get().scheme_version == 1


def test_the_ordering_model_reorders_the_threads_after_an_import(project, thread):
    article, top, _ = thread
    make_model(project, "roberta-stance", version="2", orders_work=True)

    run(project, jsonl(line(top, confidences={"stance_article": 0.12})))

    assert Article.objects.get(pk=article.pk).lowest_confidence == 0.12


def test_a_comment_deleted_between_the_passes_refuses_the_file_and_rolls_back(
    project, thread, monkeypatch
):
    _, top, reply = thread
    content = jsonl(line(top), line(reply))
    reads = []

    def opener():
        reads.append(1)
        if len(reads) == 2:  # the write pass
            Comment.objects.filter(pk=reply.pk).delete()
        return io.BytesIO(content)

    with pytest.raises(PredictionsRefused, match=f"no comment {reply.pk}"):
        import_predictions(project, opener, filename="p.jsonl")

    assert not Prediction.objects.exists() and not MachineLabeller.objects.exists()


# One write of a batch: an INSERT on SQLite; on PostgreSQL a savepoint and its release, the
# temporary table made and emptied, the COPY into it and the upsert from it.
WRITE_QUERIES = {"sqlite": 1, "postgresql": 6}


def test_lookups_cost_the_same_queries_per_batch_whatever_the_batch_holds(project, monkeypatch):
    monkeypatch.setattr(importing, "LOOKUP_BATCH", 50)
    article = ArticleFactory(project=project)
    comments = make_thread(article, 200)

    def queries(count: int, by_source: bool) -> int:
        Prediction.objects.all().delete()
        lines = [
            line(c, comment_id=None, source_id=c.source_id) if by_source and i % 2 else line(c)
            for i, c in enumerate(comments[:count])
        ]
        with CaptureQueriesContext(connection) as captured:
            run(project, jsonl(*lines))
        return len(captured)

    queries(1, False)  # the model exists from here on: each import below only fetches it
    for by_source in (False, True):
        one_batch, four_batches = queries(50, by_source), queries(200, by_source)
        per_batch = 2 if by_source else 1  # comment lookups, in each pass
        # Each further batch costs its lookups in both passes and its write: nothing per line.
        assert four_batches - one_batch == 3 * (2 * per_batch + WRITE_QUERIES[connection.vendor])


def test_a_run_failed_by_the_reaper_meanwhile_rolls_its_import_back(project, thread):
    from annotator.assist.importing import import_into_run
    from annotator.assist.models import PredictionRun

    _, top, _ = thread
    run_row = PredictionRun.objects.create(project=project, kind="import", status="running")
    content = jsonl(line(top))
    opened = []

    def opener():
        opened.append(1)
        if len(opened) == 1:  # the worker is taken for dead while it checks
            PredictionRun.objects.filter(pk=run_row.pk).update(status="failed", error="stopped")
        return io.BytesIO(content)

    assert import_into_run(run_row, opener, "p.jsonl") is None

    assert not Prediction.objects.exists() and not MachineLabeller.objects.exists()
    run_row.refresh_from_db()
    assert (run_row.status, run_row.error) == ("failed", "stopped")


def test_a_run_records_its_counts_and_its_refusals(project, thread):
    from annotator.assist.importing import import_into_run
    from annotator.assist.models import PredictionRun

    _, top, reply = thread
    good = PredictionRun.objects.create(project=project, kind="import", status="running")
    import_into_run(good, lambda: io.BytesIO(jsonl(line(top), line(reply))), "p.jsonl")
    good.refresh_from_db()
    assert (good.status, good.done, good.total, good.labeller.label) == (
        "succeeded",
        2,
        2,
        "roberta-stance@2",
    )
    assert good.report["models"] == [
        {"id": good.labeller_id, "label": "roberta-stance@2", "predictions": 2, "comments": 2}
    ]

    bad = PredictionRun.objects.create(project=project, kind="import", status="running")
    import_into_run(bad, lambda: io.BytesIO(jsonl(line(top, model="no good"))), "p.jsonl")
    bad.refresh_from_db()
    assert bad.status == "failed" and bad.error.startswith('p.jsonl, line 1: "model" must be')
    assert bad.report["error_count"] == bad.failed == 1
