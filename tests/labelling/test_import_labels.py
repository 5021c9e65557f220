"""``manage.py import_labels``: the preview printed, --map, --yes, and refusals."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotator.corpus.importers.loader import import_file
from annotator.labelling.models import Annotation

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
PHEME = str(SAMPLES / "pheme_annotations.json")


@pytest.fixture
def pheme_project(project):
    import_file(project, SAMPLES / "pheme_thread.jsonl")
    return project


def run(*args):
    out = StringIO()
    call_command("import_labels", *args, stdout=out)
    return out.getvalue()


def test_without_yes_it_prints_the_preview_and_writes_nothing(pheme_project):
    out = run("aleppo", PHEME)
    assert "pheme_annotations.json: PHEME annotations, 19 labels" in out
    assert "Annotators: ext:PHEME (19)" in out
    assert (
        "Comments: 5 matched, 2 not in the project (552783667052167168, 552791196247269376)" in out
    )
    assert "  responsetype-vs-source=agreed (2) -> stance_article=support" in out
    assert "  certainty=underspecified (1) -> speculation=not_applicable" in out
    assert "Nothing written: run again with --yes to import." in out
    assert Annotation.objects.count() == 0


def test_with_yes_and_a_map_it_imports_and_prints_the_summary(pheme_project):
    out = run("aleppo", PHEME, "--yes", "--map", "certainty=underspecified:speculation=uncertain")
    assert "  certainty=underspecified (1) -> speculation=uncertain" in out
    assert "Imported 5 annotations." in out
    assert "  ext:PHEME: 5 new, 0 updated, 0 unchanged" in out
    assert (
        Annotation.objects.get(comment__source_id="552786226097389568").answers["speculation"]
        == "uncertain"
    )
    again = run("aleppo", PHEME, "--yes", "--map", "certainty=underspecified:speculation=uncertain")
    assert "  ext:PHEME: 0 new, 0 updated, 5 unchanged" in again


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "certainty=maybe:speculation=certain"], "the file has no certainty=maybe"),
        (["--map", "certainty=certain:speculation=sure"], "no question=choice"),
        (["--map", "certainty"], "write FIELD=VALUE:QUESTION=ANSWER"),
    ],
)
def test_a_bad_map_is_refused(pheme_project, args, message):
    with pytest.raises(CommandError, match=message):
        run("aleppo", PHEME, "--yes", *args)
    assert Annotation.objects.count() == 0


def test_a_file_in_another_encoding_is_refused_and_read_with_encoding(project):
    path = str(SAMPLES / "doccano_export_cp1252.jsonl")
    with pytest.raises(CommandError, match=r"line 1: this is not UTF-8 text \(byte 0x93.*cp1252"):
        run("aleppo", path)
    assert "doccano JSON Lines export, 2 labels" in run("aleppo", path, "--encoding", "cp1252")


def test_an_unknown_project_or_file_is_refused(project, tmp_path):
    with pytest.raises(CommandError, match="No project with the slug 'nope'"):
        run("nope", PHEME)
    with pytest.raises(CommandError, match="no such file"):
        run("aleppo", str(tmp_path / "missing.json"))
