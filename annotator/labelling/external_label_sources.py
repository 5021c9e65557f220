"""Readers of published label files: each turns one file into plain label rows.

A row says that a source annotator gave a comment (by its id in the source, and its
article's when the format has one) a value in one of their fields: ``LabelRow``. The rows
know nothing of this tool's scheme or database; ``external_labels.py`` matches them to
comments, maps (field, value) to questions and answers, and writes annotations.

Formats (``read_label_file`` tells them apart by their shape, never by the file name):

* **Label Studio** JSON export: a list of tasks, each with ``data`` and ``annotations``;
  every annotation's ``completed_by`` (an id, or an object with ``email``) is a source
  annotator ``labelstudio:<who>``; its ``choices`` regions give (``from_name``, each of
  ``value.choices``). Other region types (spans, ratings, text areas) and cancelled
  annotations are counted and reported, not imported. Predictions are not labels.
* **doccano** JSON Lines: ``label`` is a list of strings (field ``label``) or of
  ``[start, end, label]`` spans, which give their label; the span's offsets are kept in
  the row's ``detail`` (they go to the annotation's note), as no question holds spans.
  Annotator ``doccano``, or ``doccano:<annotator>`` when a line names one.
* **PHEME** per-tweet annotations (JSON Lines; ``#`` heading lines such as
  ``# Deep Replies`` are skipped): every field of the scheme that is present
  (``responsetype-vs-source``, ``responsetype-vs-previous``, ``support``, ``certainty``,
  ``evidentiality``), annotator ``PHEME``; the article is the ``threadid``.
* **RumourEval** keys: 2017 ``{tweet_id: label}`` and 2019 ``{"subtaskaenglish": {...},
  "subtaskbenglish": {...}}``; annotator ``RumourEval``, field ``stance`` (subtask A) and
  ``veracity`` (subtask B, about source tweets: no question takes it by default).
* **DAST**: one Reddit submission's JSON, ``{"redditSubmission", "branches"}``; every
  comment in a branch gives ``SDQC_Submission``, ``SDQC_Parent``, ``Certainty``,
  ``Evidentiality``; annotator ``DAST``; the article is the submission id. A comment is in
  every branch through it, so repeated rows are dropped.

Memory: a label file is read whole (the JSON formats are single documents, and the rows of
the largest published corpora, PHEME's 4,500 tweets or RumourEval's 8,000, are a few MB);
callers refuse files over ``external_labels.MAX_LABEL_FILE_BYTES`` before reading them.

Encoding: files must be UTF-8 (a BOM is allowed). A file in another encoding is refused as
a thread is (``importers/encoding.not_utf8_error``: the first byte that is not UTF-8 and the
encoding it looks like), or decoded from ``encoding`` when the admin chose one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from annotator.corpus.importers.encoding import not_utf8_error
from annotator.corpus.importers.labelstudio import id_text, labelstudio_comment_ref
from annotator.corpus.importers.records import ImportFileError

BOM = b"\xef\xbb\xbf"
RUMOUREVAL_STANCES = frozenset({"support", "deny", "query", "comment"})
PHEME_FIELDS = (
    "responsetype-vs-source",
    "responsetype-vs-previous",
    "support",
    "certainty",
    "evidentiality",
)
DAST_FIELDS = ("SDQC_Submission", "SDQC_Parent", "Certainty", "Evidentiality")
FORMAT_LABELS = {
    "labelstudio": "Label Studio JSON export",
    "doccano": "doccano JSON Lines export",
    "pheme": "PHEME annotations",
    "rumoureval": "RumourEval key",
    "dast": "DAST submission",
}


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One value a source annotator gave one comment in one of their fields."""

    comment_id: str
    annotator: str
    field: str
    value: str
    article_id: str | None = None
    line: int = 0  # the line (JSON Lines) or record (JSON documents) it came from
    detail: str = ""  # what the value alone does not say (a doccano span's offsets)


@dataclass(slots=True)
class LabelFile:
    """What a label file holds: its format, its rows, and what was left out and why."""

    format: str
    rows: list[LabelRow] = field(default_factory=list)
    # key -> (count, text with {count}), e.g. regions of types other than choices.
    left_out: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return FORMAT_LABELS[self.format]

    def leave_out(self, key: str, text: str, count: int = 1) -> None:
        old, _ = self.left_out.get(key, (0, text))
        self.left_out[key] = (old + count, text)

    def notices(self) -> list[str]:
        """What was left out, as sentences for the preview and the command."""
        return [text.format(count=f"{count:,}") for count, text in self.left_out.values()]


def read_label_file(data: bytes, filename: str, *, encoding: str | None = None) -> LabelFile:
    """The label rows of a file in any of the formats above; ``ImportFileError`` otherwise.

    ``encoding`` decodes a file that is not UTF-8 (the admin's choice after a refusal).
    """
    text = _decode(data, filename, encoding)
    stripped = text.lstrip()
    if not stripped:
        raise ImportFileError(filename, None, "the file is empty")
    if stripped[0] in "[{":
        try:
            document = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            document = None  # several JSON objects: JSON Lines
        else:
            return _read_document(document, filename)
    return _read_lines(text, filename)


def _decode(data: bytes, filename: str, encoding: str | None) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except LookupError:
            raise ImportFileError(filename, None, f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise ImportFileError(
                filename, line, f"not {encoding} text (byte 0x{data[error.start]:02x})"
            ) from None
    if data.startswith(BOM):
        data = data[len(BOM) :]
    if b"\x00" in data[:1024]:
        raise ImportFileError(filename, None, "binary data (NUL bytes), not a label file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        # The same refusal as a thread's: the encoding it looks like, and how to choose it.
        raise not_utf8_error(filename, data, error.start, line) from None


# --- JSON documents: Label Studio, RumourEval, DAST -------------------------------------------


def _read_document(document: Any, filename: str) -> LabelFile:
    if isinstance(document, list):
        if document and all(isinstance(task, dict) for task in document):
            first = document[0]
            if "data" in first and ("annotations" in first or "predictions" in first):
                return _read_labelstudio(document, filename)
            if "label" in first and ("text" in first or "data" in first):
                # doccano's older JSON (one array) holds the same records as its JSON Lines.
                found = LabelFile("doccano")
                for number, record in enumerate(document, start=1):
                    _doccano_rows(found, record, filename, number)
                return found
        raise ImportFileError(
            filename,
            None,
            'a JSON array, but not a Label Studio export (tasks with "data" and "annotations")',
        )
    if not isinstance(document, dict):
        raise ImportFileError(filename, None, "not a label file: a single JSON value")
    if "redditSubmission" in document and "branches" in document:
        return _read_dast(document, filename)
    if "subtaskaenglish" in document or "subtaskbenglish" in document:
        return _read_rumoureval_2019(document, filename)
    if document and all(
        isinstance(value, str) and value.lower() in RUMOUREVAL_STANCES
        for value in document.values()
    ):
        return _read_rumoureval_key(document, "stance", LabelFile("rumoureval"))
    if "tweetid" in document or (
        "label" in document and ("text" in document or "data" in document)
    ):
        # A JSON Lines file of one line (PHEME, doccano).
        return _read_lines(orjson.dumps(document).decode(), filename)
    raise ImportFileError(
        filename,
        None,
        "not a label file this tool reads (Label Studio, doccano, PHEME, RumourEval or DAST; "
        "see docs/formats.md, “Labelled corpora”)",
    )


def _who(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        email = completed_by.get("email")
        if isinstance(email, str) and email:
            return email
        completed_by = completed_by.get("id")
    who = id_text(completed_by)
    return who or "unknown"


def _read_labelstudio(tasks: list[dict], filename: str) -> LabelFile:
    found = LabelFile("labelstudio")
    for number, task in enumerate(tasks, start=1):
        comment_id, article_id = labelstudio_comment_ref(task)
        if comment_id is None:
            raise ImportFileError(filename, number, "a task without an id", unit="task")
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            raise ImportFileError(filename, number, '"annotations" must be a list', unit="task")
        for annotation in annotations:
            if not isinstance(annotation, dict):
                raise ImportFileError(filename, number, "an annotation that is not an object")
            if annotation.get("was_cancelled"):
                found.leave_out("cancelled", "{count} cancelled annotations were left out")
                continue
            annotator = f"labelstudio:{_who(annotation.get('completed_by'))}"
            for region in annotation.get("result") or []:
                if not isinstance(region, dict):
                    continue
                kind = region.get("type")
                value = region.get("value") if isinstance(region.get("value"), dict) else {}
                if kind != "choices":
                    found.leave_out(
                        f"type:{kind}",
                        f"{{count}} regions of type {kind!r} were left out (only choices map "
                        "onto questions)",
                    )
                    continue
                source_field = str(region.get("from_name") or "choices")
                for choice in value.get("choices") or []:
                    if isinstance(choice, str | int) and not isinstance(choice, bool):
                        found.rows.append(
                            LabelRow(
                                comment_id, annotator, source_field, str(choice), article_id, number
                            )
                        )
        if task.get("predictions"):
            found.leave_out("predictions", "{count} tasks' predictions were left out")
    return found


def _read_rumoureval_2019(document: dict, filename: str) -> LabelFile:
    found = LabelFile("rumoureval")
    for key, source_field in (("subtaskaenglish", "stance"), ("subtaskbenglish", "veracity")):
        part = document.get(key)
        if part is None:
            continue
        if not isinstance(part, dict):
            raise ImportFileError(filename, None, f'"{key}" must map tweet ids to labels')
        _read_rumoureval_key(part, source_field, found)
    return found


def _read_rumoureval_key(key: dict, source_field: str, found: LabelFile) -> LabelFile:
    for number, (tweet_id, value) in enumerate(key.items(), start=1):
        if isinstance(value, str):
            found.rows.append(
                LabelRow(str(tweet_id), "RumourEval", source_field, value, None, number)
            )
    return found


def _read_dast(document: dict, filename: str) -> LabelFile:
    found = LabelFile("dast")
    submission = document.get("redditSubmission")
    article_id = id_text(submission.get("submission_id")) if isinstance(submission, dict) else None
    seen: set[LabelRow] = set()
    branches = document.get("branches")
    if not isinstance(branches, list):
        raise ImportFileError(filename, None, '"branches" must be a list of branches')
    number = 0
    for branch in branches:
        for item in branch if isinstance(branch, list) else []:
            number += 1
            comment = item.get("comment") if isinstance(item, dict) else None
            if not isinstance(comment, dict):
                raise ImportFileError(
                    filename, number, 'a branch item without "comment"', unit="item"
                )
            comment_id = id_text(comment.get("comment_id"))
            if comment_id is None:
                raise ImportFileError(
                    filename, number, 'a comment without "comment_id"', unit="item"
                )
            for source_field in DAST_FIELDS:
                value = comment.get(source_field)
                if isinstance(value, str) and value.strip():
                    row = LabelRow(comment_id, "DAST", source_field, value.strip(), article_id, 0)
                    if row not in seen:
                        seen.add(row)
                        found.rows.append(
                            LabelRow(
                                comment_id, "DAST", source_field, value.strip(), article_id, number
                            )
                        )
    return found


# --- JSON Lines: PHEME, doccano --------------------------------------------------------------


def _json_lines(text: str, filename: str) -> Iterator[tuple[int, dict]]:
    # Split on "\n" only, as the text import's readline does: the line numbers (doccano's
    # ids when a line has none) must agree, and a text may hold U+2028 or a form feed.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue  # PHEME's "# Direct Replies" headings, blank lines
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise ImportFileError(filename, number, f"malformed JSON: {error}") from None
        if not isinstance(record, dict):
            raise ImportFileError(filename, number, "expected a JSON object")
        yield number, record


def _read_lines(text: str, filename: str) -> LabelFile:
    found: LabelFile | None = None
    for number, record in _json_lines(text, filename):
        if found is None:
            if "tweetid" in record:
                found = LabelFile("pheme")
            elif "label" in record and ("text" in record or "data" in record):
                found = LabelFile("doccano")
            else:
                raise ImportFileError(
                    filename,
                    number,
                    "not a label file this tool reads: a JSON Lines record with neither "
                    '"tweetid" (PHEME) nor "label" and "text" (doccano)',
                )
        if found.format == "pheme":
            _pheme_rows(found, record, filename, number)
        else:
            _doccano_rows(found, record, filename, number)
    if found is None:
        raise ImportFileError(filename, None, "the file holds no records")
    return found


def _pheme_rows(found: LabelFile, record: dict, filename: str, number: int) -> None:
    tweet_id = id_text(record.get("tweetid"))
    if tweet_id is None:
        raise ImportFileError(filename, number, 'a PHEME annotation without "tweetid"')
    thread_id = id_text(record.get("threadid"))
    for source_field in PHEME_FIELDS:
        value = record.get(source_field)
        if isinstance(value, str) and value.strip():
            found.rows.append(
                LabelRow(tweet_id, "PHEME", source_field, value.strip(), thread_id, number)
            )


def _doccano_rows(found: LabelFile, record: Any, filename: str, number: int) -> None:
    if not isinstance(record, dict):
        raise ImportFileError(filename, number, "expected a JSON object", unit="record")
    comment_id = id_text(record.get("id")) or str(number)
    who = record.get("annotator") or record.get("user")
    annotator = f"doccano:{who}" if isinstance(who, str | int) and who != "" else "doccano"
    labels = record.get("label", [])
    if not isinstance(labels, list):
        labels = [labels]
    for label in labels:
        if isinstance(label, str) and label.strip():
            found.rows.append(LabelRow(comment_id, annotator, "label", label.strip(), None, number))
        elif (
            isinstance(label, list)
            and len(label) == 3
            and isinstance(label[2], str)
            and all(isinstance(offset, int) for offset in label[:2])
        ):
            start, end, name = label
            found.rows.append(
                LabelRow(
                    comment_id,
                    annotator,
                    "label",
                    name.strip(),
                    None,
                    number,
                    detail=f"span {start}-{end} {name.strip()}",
                )
            )
        else:
            raise ImportFileError(
                filename,
                number,
                f"a label that is neither a string nor [start, end, label]: {label!r}"[:200],
            )
