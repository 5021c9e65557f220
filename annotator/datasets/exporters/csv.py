"""CSV: one row per comment, wide, for spreadsheets and ``pandas.read_csv``.

Columns, in order:

* ``article_id, comment_id, parent_id, depth, position, split, author, text, posted_at,
  meta, n_annotations``;
* ``labels=all``: per question ``majority__<key>``, ``support__<key>`` (share of the voters
  who gave it), ``votes__<key>`` (annotators who answered), ``tied__<key>`` (the tied answers
  when there is no majority), then per annotator and question ``<annotator>__<key>`` (that
  annotator's submitted answer), annotators sorted by name (``annotator-1..n`` when
  pseudonymised);
  then per question ``gold__<key>`` (the reviewer's gold answer; empty where none);
  then per annotator ``stale__<annotator>``: the answers set aside when the comment was
  re-parented, as JSON text (question → ``value``, ``answered_toward_parent``,
  ``marked_stale_at``), empty where none; never counted in any other column;
* ``labels=final`` or ``labels=gold``: per question ``final__<key>``;
* always: ``gold_method`` (``adjudicated`` or ``accepted``), ``gold_by``, ``gold_at``
  (empty where the comment has no gold);
* last, when the export carries model predictions: per model (``name@version``) and
  question with any prediction, ``pred__<model>__<key>`` (the model's answer, joined as the
  human label columns are) and ``pred__<model>__<key>__confidence``; models in name order,
  questions in the export's order (``predictions.prediction_columns``). They are never in
  any other column.

We chose one wide row per comment over a long format (a row per comment and annotator)
because it is what a classifier and ``pandas`` want: one row, one example, no pivot.
Per-annotator columns carry the answers only; the rest of each annotation (times, notes,
flags) is in the JSON Lines and Parquet exports.

Cells: multiple-choice answers are joined with ``|``; an empty cell means no value
(not answered, or a tie: ``votes__<key>`` tells which); times are ISO 8601 in UTC with a
``Z``; ``meta`` is JSON text. UTF-8 without a byte-order mark, ``\\n`` line ends, fields
with commas, quotes or newlines quoted (RFC 4180 style); texts are written unchanged.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula, and comment text (or an author's name) is written by strangers:
``=HYPERLINK(...)`` or ``+cmd|...`` would run on the researcher's machine. By default the
cells stay verbatim, as ``pandas`` and other code want them; with ``spreadsheet_safe``
every such text cell gets a leading ``'`` (OWASP's advice for CSV injection), which a
spreadsheet shows as text and code must strip. The dataset card says which was chosen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any, BinaryIO

import orjson

from annotator.datasets.predictions import PredictionColumn
from annotator.datasets.rows import IdentityMemo, Majority, RowSource

FILENAME = "comments.csv"
KEEPS_TREES = False
COMPRESS = True

BASE_COLUMNS = (
    "article_id",
    "comment_id",
    "parent_id",
    "depth",
    "position",
    "split",
    "author",
    "text",
    "posted_at",
    "meta",
    "n_annotations",
)

GOLD_COLUMNS = ("gold_method", "gold_by", "gold_at")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def header(
    source: RowSource, annotators: list[str], predictions: Sequence[PredictionColumn] = ()
) -> list[str]:
    """The column names of an export of ``source`` with these annotator names and
    prediction columns."""
    columns = list(BASE_COLUMNS)
    keys = source.question_keys
    if source.final:
        columns += [f"final__{key}" for key in keys]
    else:
        for key in keys:
            columns += [f"majority__{key}", f"support__{key}", f"votes__{key}", f"tied__{key}"]
        columns += [f"{name}__{key}" for name in annotators for key in keys]
        columns += [f"gold__{key}" for key in keys]
        columns += [f"stale__{name}" for name in annotators]
    columns += GOLD_COLUMNS
    for column in predictions:
        columns += [column.answer_name, column.confidence_name]
    return columns


def cell(value: Any) -> Any:
    """A value as a CSV cell: lists joined with ``|``, None empty, UTC times with ``Z``."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "|".join(value)
    if isinstance(value, datetime):
        return _iso(value)
    return value


def stale_cell(stale: dict[str, dict[str, Any]] | None) -> str:
    """An annotator's stale answers as JSON text, empty when there are none."""
    if not stale:
        return ""
    return orjson.dumps(stale, option=orjson.OPT_UTC_Z | orjson.OPT_SORT_KEYS).decode()


def _iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def write(source: RowSource, out: BinaryIO) -> None:
    """Write the header and one row per comment of ``source`` to ``out``."""
    annotators = [] if source.final else source.annotator_names()
    predicted = source.prediction_columns() if source.carries_predictions else []
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text, lineterminator="\n")
    # Python 3.11's writer leaves a field with a lone carriage return unquoted, which splits
    # the row for every reader; such rows go through a writer that quotes every field.
    quoting_writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header(source, annotators, predicted))
    keys = source.question_keys
    # Labels are shared between rows: their cells are worked out once (rows.IdentityMemo).
    label_cells = IdentityMemo(lambda answers: [cell(answers.get(key)) for key in keys])
    majority_cells = IdentityMemo(lambda majority: _majority_cells(majority, keys))
    no_answers = [""] * len(keys)
    final = source.final
    safe = source.options.spreadsheet_safe
    rows: list[list] = []
    for row in source.comments():
        posted = row.posted_at
        cells = [
            row.article_id,
            row.comment_id,
            row.parent_id or "",
            row.depth,
            row.position,
            row.split or "",
            row.author,
            row.text,
            _iso(posted) if posted is not None else "",
            row.meta,
            len(row.annotations),
        ]
        if final:
            cells += label_cells(row.final) if row.final is not None else no_answers
        else:
            cells += majority_cells(row.majority)
            by_name = {a.annotator: a.answers for a in row.annotations}
            for name in annotators:
                answers = by_name.get(name)
                cells += no_answers if answers is None else label_cells(answers)
            cells += no_answers if row.gold is None else label_cells(row.gold.answers)
            stale_by_name = {a.annotator: a.stale for a in row.annotations}
            cells += [stale_cell(stale_by_name.get(name)) for name in annotators]
        gold = row.gold
        if gold is None:
            cells += ["", "", ""]
        else:
            cells += [gold.method, gold.decided_by, _iso(gold.decided_at)]
        if predicted:
            cells += _prediction_cells(row.predictions, predicted)
        if safe:
            cells = [spreadsheet_safe(value) for value in cells]
        if any(type(value) is str and "\r" in value for value in cells):
            writer.writerows(rows)
            rows.clear()
            quoting_writer.writerow(cells)
            continue
        rows.append(cells)
        if len(rows) == 1_000:
            writer.writerows(rows)
            rows.clear()
    writer.writerows(rows)
    text.flush()
    text.detach()


def _majority_cells(majority: dict[str, Majority], keys: tuple[str, ...]) -> list:
    cells: list[Any] = []
    for key in keys:
        answer = majority[key]
        cells += [
            cell(answer.value),
            cell(answer.support),
            answer.votes,
            cell(answer.tied) if answer.tied else "",
        ]
    return cells


def _prediction_cells(
    predictions: dict[str, dict[str, dict[str, Any]]] | None, columns: list[PredictionColumn]
) -> list:
    """A row's answer and confidence cells, one pair per prediction column (empty: none)."""
    if not predictions:
        return [""] * (2 * len(columns))
    cells: list[Any] = []
    for column in columns:
        found = predictions.get(column.model, {}).get(column.question)
        if found is None:
            cells += ["", ""]
        else:
            cells += [cell(found["answer"]), cell(found["confidence"])]
    return cells
