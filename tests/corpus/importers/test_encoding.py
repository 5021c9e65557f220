"""Files not in UTF-8: refused naming the encoding they look like, imported in a chosen one."""

import io

import orjson
import pytest

from annotator.corpus.importers.encoding import NotUtf8Error, Utf8Checked, transcoded
from annotator.corpus.importers.loader import import_file
from annotator.corpus.models import Comment
from tests.corpus.importers.test_loader import article, comment, counts

pytestmark = pytest.mark.django_db

# Curly quotes and accents as a Windows tool writes them (0x93, 0x94, 0xe9, 0xef).
WINDOWS_TEXT = "“Quoted” café - naïve résumé, déjà vu"


def cp1252_thread(path, filler_lines: int = 0):
    """A JSON Lines thread saved as Windows-1252, its first non-ASCII byte after
    ``filler_lines`` plain comments (beyond the first kilobyte the form looks at)."""
    records = [article("a-1")]
    records += [comment(f"plain-{number}", text="plain ascii") for number in range(filler_lines)]
    records += [comment("c-1", text=WINDOWS_TEXT), comment("c-2", "c-1", text="Ça va, oui")]
    lines = [orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE) for record in records]
    path.write_bytes(b"".join(line.decode().encode("cp1252") for line in lines))
    return path


def test_a_windows_1252_file_is_refused_naming_the_encoding_and_the_line(project, tmp_path):
    path = cp1252_thread(tmp_path / "export.jsonl", filler_lines=200)

    with pytest.raises(NotUtf8Error) as refused:
        import_file(project, path)

    assert refused.value.line == 202
    assert refused.value.found == "cp1252"
    assert "it looks like Windows-1252 (cp1252)" in str(refused.value)
    assert "--encoding cp1252" in str(refused.value)
    assert counts() == (0, 0)


def test_the_same_file_imports_when_its_encoding_is_chosen(project, tmp_path):
    path = cp1252_thread(tmp_path / "export.jsonl", filler_lines=200)

    import_file(project, path, options={"encoding": "cp1252"})

    assert Comment.objects.get(source_id="c-1").text == WINDOWS_TEXT
    assert Comment.objects.get(source_id="c-2").text == "Ça va, oui"
    assert Comment.objects.count() == 202


def test_a_character_cut_between_two_reads_is_not_an_error():
    data = ("é" * 10).encode()
    checked = io.BufferedReader(Utf8Checked(io.BytesIO(data), "x"), buffer_size=3)

    assert b"".join(iter(lambda: checked.read(3), b"")) == data


def test_an_invalid_byte_is_found_on_its_line_across_reads():
    data = b"line one\n" * 1000 + b"bad \xff here\n"
    checked = Utf8Checked(io.BytesIO(data), "x.jsonl")

    with pytest.raises(NotUtf8Error) as refused:
        while checked.read(1000):
            pass

    assert refused.value.line == 1001
    assert "byte 0xff at column 5" in str(refused.value)


def test_a_character_cut_short_at_the_end_of_the_file_is_refused():
    checked = Utf8Checked(io.BytesIO("fin é".encode()[:-1]), "x")

    with pytest.raises(NotUtf8Error):
        while checked.read(100):
            pass


def test_transcoding_hands_the_parser_utf8():
    stream = transcoded(io.BytesIO(WINDOWS_TEXT.encode("cp1252") * 1000), "cp1252")

    assert stream.read().decode("utf-8") == WINDOWS_TEXT * 1000
