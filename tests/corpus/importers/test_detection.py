"""Format detection and the refusal of files that are no thread (importers/__init__.py)."""

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from annotator.corpus.importers import (
    ACCEPTED,
    SNIFF_BYTES,
    detect_format,
    identify_unsupported,
    refuse_unsupported,
)
from annotator.corpus.importers.records import UnsupportedFileError

PDF = (Path(__file__).resolve().parents[3] / "fixtures/samples/refused/article.pdf").read_bytes()


def zip_with(member: str) -> bytes:
    """A ZIP whose first member is ``member``, as Office files are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, "<xml/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (PDF, "a PDF document"),
        (zip_with("word/document.xml"), "a Word document (.docx)"),
        (zip_with("xl/workbook.xml"), "an Excel workbook (.xlsx)"),
        (zip_with("mimetypeapplication/vnd.oasis.opendocument.text"), "an OpenDocument file"),
        (zip_with("thread.jsonl"), "a ZIP archive"),
        (gzip.compress(b'{"type": "article"}\n', mtime=0), "a gzip-compressed file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (b"GIF89a\x01\x00\x01\x00", "a GIF image"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "a WebP image"),
        (b"Title\n\nbody\x00\x01\x02", "binary data"),
        ("Title\n\nUTF-16 text".encode("utf-16"), "binary data"),
        ("Café au lait\n\nbody".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_it_names_what_a_file_is_when_it_is_no_thread(head, what):
    assert identify_unsupported(head).startswith(what)


@pytest.mark.parametrize(
    "head",
    [
        b"Ceasefire holds\n\nThe ceasefire held overnight.\n\n\nGood news.\n",
        "Ceasefire holds in Ḥalab — “good news” ☺\n".encode(),
        b'{"type": "article", "id": "a"}\n',
        b"article_id,article_title,comment_id\n",
        b"<?xml version='1.0'?><disqus/>",
        "\ufeffTitle with a BOM\n".encode(),
    ],
)
def test_text_of_every_accepted_format_passes(head):
    assert identify_unsupported(head) is None


def test_a_character_cut_at_the_end_of_the_sample_is_not_taken_for_binary():
    text = ("é" * SNIFF_BYTES).encode()  # two bytes a character: the sample ends on a half
    assert identify_unsupported(text[: SNIFF_BYTES + 1]) is None


def test_invalid_utf8_after_the_sample_is_left_to_the_parser_and_its_line():
    assert identify_unsupported(b"x" * SNIFF_BYTES + b"\n\xe9\n") is None


def test_the_refusal_says_what_the_file_is_and_which_formats_are_accepted():
    with pytest.raises(UnsupportedFileError) as refused:
        refuse_unsupported(PDF, "article.pdf")

    assert str(refused.value) == (
        f"article.pdf: This is a PDF document, not a comment thread. {ACCEPTED}"
    )
    assert ACCEPTED in str(refused.value)


def test_a_file_in_another_encoding_is_told_to_be_saved_as_utf8():
    with pytest.raises(UnsupportedFileError, match="save it as UTF-8"):
        refuse_unsupported("Café\n".encode("latin-1"), "thread.txt")


def test_detection_refuses_a_pdf_instead_of_falling_back_to_scraped_text():
    with pytest.raises(UnsupportedFileError, match="This is a PDF document"):
        detect_format(PDF, "thread.txt")


@pytest.mark.parametrize(
    ("head", "name", "fmt"),
    [
        (b'{"type": "article"}', "x", "jsonl"),
        (b"<disqus>", "x", "disqus"),
        (b"article_id,comment_id,text\n", "x", "csv"),
        (b"Title\n\nBody", "thread.txt", "text"),
        (b"Title\n\nBody", "thread.csv", "csv"),
    ],
)
def test_detection_still_reads_the_accepted_formats(head, name, fmt):
    assert detect_format(head, name) == fmt
