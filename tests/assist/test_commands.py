"""``manage.py import_predictions PROJECT FILE``: counts on success; on refusal each refused
line as ``file:line: reason``, a non-zero exit and nothing written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, ManagementUtility, call_command

from annotator.assist.models import MachineLabeller, Prediction, PredictionRun
from annotator.corpus.importers.loader import import_file
from tests.factories import ArticleFactory, make_comment

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_seed_predictions_import_from_the_command_line_with_counts(project):
    import_file(project, FIXTURES / "seed_thread.txt", fmt="text")
    path = FIXTURES / "samples" / "predictions_seed.jsonl"

    out, err = run("import_predictions", project.slug, str(path))

    count = Prediction.objects.count()
    assert count == 3 * 63
    assert f"roberta-stance@1: {count} predictions for 63 comments" in out
    assert f"predictions_seed.jsonl: {count} predictions imported" in out
    assert err == ""
    run_row = PredictionRun.objects.get()
    assert (run_row.status, run_row.created_by, run_row.done) == ("succeeded", None, 63)


def test_a_refused_file_prints_each_line_and_writes_nothing(project):
    import_file(project, FIXTURES / "seed_thread.txt", fmt="text")
    path = FIXTURES / "samples" / "predictions_broken.jsonl"
    err = io.StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("import_predictions", project.slug, str(path), stderr=err)

    lines = err.getvalue().splitlines()
    assert lines[0].startswith("predictions_broken.jsonl:2: malformed JSON")
    assert "predictions_broken.jsonl:3: 'stance_article': not a choice: maybe" in lines
    assert len(lines) == 8
    assert (
        str(refused.value) == "predictions_broken.jsonl refused (8 errors); nothing was imported."
    )
    assert not Prediction.objects.exists() and not MachineLabeller.objects.exists()
    assert PredictionRun.objects.get().status == "failed"


def test_a_refused_file_exits_non_zero_without_a_traceback(project, capsys):
    path = FIXTURES / "samples" / "predictions_broken.jsonl"

    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "import_predictions", project.slug, str(path)]).execute()

    # (No database queries after this: the command closes the connections as it ends.)
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "CommandError: predictions_broken.jsonl refused" in err
    assert "Traceback" not in err


def test_a_binary_file_is_one_line(project, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"\x00\x01" * 10)

    with pytest.raises(CommandError, match=r"p.jsonl refused \(1 error\)"):
        run("import_predictions", project.slug, str(path))


def test_an_unknown_project_or_file_is_one_line(project, tmp_path):
    comment = make_comment(ArticleFactory(project=project))
    path = tmp_path / "p.jsonl"
    line = {"comment_id": comment.pk, "model": "m", "answers": {"stance_article": "deny"}}
    path.write_text(json.dumps(line) + "\n")

    with pytest.raises(CommandError, match="No project with the slug 'nope'"):
        run("import_predictions", "nope", str(path))
    with pytest.raises(CommandError, match="no such file"):
        run("import_predictions", project.slug, str(tmp_path / "missing.jsonl"))
    assert not PredictionRun.objects.exists()
