"""Parquet: typed columns for ``pandas.read_parquet``, pyarrow and Hugging Face datasets.

Schema (``schema_for``):

* ``article_id, comment_id, parent_id`` string, ``depth, position`` int32, ``split, author,
  text`` string, ``posted_at`` timestamp (µs, UTC), ``meta`` string (JSON text),
  ``n_annotations`` int32;
* ``labels=all``: ``annotations`` list<struct<annotator string, answers struct<one field per
  question>, scheme_version int32, answered_under struct<one int32 per question>,
  time_spent_ms int64, created_at / updated_at / submitted_at timestamp, flagged bool, note
  string, stale struct<one field per question: struct<value (as in answers),
  answered_toward_parent string, marked_stale_at timestamp>, null unless that answer was set
  aside when the comment was re-parented>>, and per question ``majority__<key>``,
  ``support__<key>`` float64,
  ``votes__<key>`` int32, ``tied__<key>`` list<string>;
  then per question ``gold__<key>`` (the reviewer's gold answer, null where none);
* ``labels=final`` or ``labels=gold``: per question ``final__<key>``;
* always: ``gold_method`` (``adjudicated`` or ``accepted``), ``gold_by`` string and
  ``gold_at`` timestamp, null where the comment has no gold;
* last, when the export carries model predictions: per model (``name@version``) and
  question with any prediction, ``pred__<model>__<key>`` (typed as the human answers to
  that question are) and ``pred__<model>__<key>__confidence`` float64, null where the model
  said nothing (columns as in CSV: ``predictions.prediction_columns``).

An answer is a string, or a list<string> for a multiple-choice question. The rows of each
chunk become one record batch; batches are written as row groups of about
``ROW_GROUP_ROWS`` rows, zstd-compressed, so memory stays at about two row groups (one
being built, one being written).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from annotator.datasets.predictions import PredictionColumn
from annotator.datasets.rows import AnnotationRow, CommentRow, RowSource
from annotator.labelling.scheme import Kind, Question

FILENAME = "comments.parquet"
KEEPS_TREES = False
COMPRESS = False  # already zstd-compressed inside
ROW_GROUP_ROWS = 10_000  # 20,000 took no less time and 30 MB more at peak
BATCH_ROWS = 5_000

TIME = pa.timestamp("us", tz="UTC")
NAIVE_TIME = pa.timestamp("us")
BASE_FIELDS = [
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("comment_id", pa.string(), nullable=False),
    pa.field("parent_id", pa.string()),
    pa.field("depth", pa.int32(), nullable=False),
    pa.field("position", pa.int32(), nullable=False),
    pa.field("split", pa.string()),
    pa.field("author", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("posted_at", TIME),
    pa.field("meta", pa.string(), nullable=False),
    pa.field("n_annotations", pa.int32(), nullable=False),
]


GOLD_FIELDS = [
    pa.field("gold_method", pa.string()),
    pa.field("gold_by", pa.string()),
    pa.field("gold_at", TIME),
]


def answer_type(question: Question) -> pa.DataType:
    return pa.list_(pa.string()) if question.kind == Kind.MULTIPLE else pa.string()


def stale_type(question: Question) -> pa.DataType:
    """One answer set aside by a re-parent: its value, the parent it was given toward, when."""
    return pa.struct(
        [
            pa.field("value", answer_type(question)),
            pa.field("answered_toward_parent", pa.string()),
            pa.field("marked_stale_at", TIME),
        ]
    )


def schema_for(source: RowSource, predictions: Sequence[PredictionColumn] = ()) -> pa.Schema:
    """The Parquet schema of an export of ``source`` (depends on questions and labels) with
    these prediction columns."""
    return pa.schema(_label_fields(source) + GOLD_FIELDS + _prediction_fields(source, predictions))


def _prediction_fields(
    source: RowSource, predictions: Sequence[PredictionColumn]
) -> list[pa.Field]:
    by_key = {q.key: q for q in source.questions}
    fields = []
    for column in predictions:
        fields += [
            pa.field(column.answer_name, answer_type(by_key[column.question])),
            pa.field(column.confidence_name, pa.float64()),
        ]
    return fields


def _label_fields(source: RowSource) -> list[pa.Field]:
    fields = list(BASE_FIELDS)
    questions = source.questions
    if source.final:
        fields += [pa.field(f"final__{q.key}", answer_type(q)) for q in questions]
        return fields
    annotation = pa.struct(
        [
            pa.field("annotator", pa.string()),
            pa.field("answers", pa.struct([pa.field(q.key, answer_type(q)) for q in questions])),
            pa.field("scheme_version", pa.int32()),
            pa.field("answered_under", pa.struct([pa.field(q.key, pa.int32()) for q in questions])),
            pa.field("time_spent_ms", pa.int64()),
            pa.field("created_at", TIME),
            pa.field("updated_at", TIME),
            pa.field("submitted_at", TIME),
            pa.field("flagged", pa.bool_()),
            pa.field("note", pa.string()),
            pa.field("stale", pa.struct([pa.field(q.key, stale_type(q)) for q in questions])),
        ]
    )
    fields.append(pa.field("annotations", pa.list_(annotation), nullable=False))
    for q in questions:
        fields += [
            pa.field(f"majority__{q.key}", answer_type(q)),
            pa.field(f"support__{q.key}", pa.float64()),
            pa.field(f"votes__{q.key}", pa.int32(), nullable=False),
            pa.field(f"tied__{q.key}", pa.list_(pa.string())),
        ]
    fields += [pa.field(f"gold__{q.key}", answer_type(q)) for q in questions]
    return fields


def write(source: RowSource, out: BinaryIO) -> None:
    """Write the rows of ``source`` to ``out`` as one Parquet file.

    Each row group is encoded and compressed on a second thread (pyarrow releases the GIL
    while it writes) while this one builds the next; at most one row group waits to be
    written, so memory stays at about two row groups.
    """
    predicted = source.prediction_columns() if source.carries_predictions else []
    schema = schema_for(source, predicted)
    writer = pq.ParquetWriter(out, schema, compression="zstd")
    rows: list[CommentRow] = []
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer") as background:
        writing: Future | None = None

        def write_group(batches: list[pa.RecordBatch], size: int) -> Future:
            if writing is not None:
                writing.result()  # the previous row group is written (or its error raised)
            table = pa.Table.from_batches(batches)
            return background.submit(writer.write_table, table, row_group_size=size)

        try:
            for row in source.comments():
                rows.append(row)
                if len(rows) == BATCH_ROWS:
                    pending.append(record_batch(rows, source, schema, predicted))
                    pending_rows += len(rows)
                    rows = []
                    if pending_rows >= ROW_GROUP_ROWS:
                        writing = write_group(pending, pending_rows)
                        pending = []
                        pending_rows = 0
            if rows:
                pending.append(record_batch(rows, source, schema, predicted))
                pending_rows += len(rows)
            if pending:
                writing = write_group(pending, pending_rows)
            if writing is not None:
                writing.result()
        finally:
            if writing is not None:
                writing.exception()  # wait: the file is closed after its last row group
            writer.close()


def record_batch(
    rows: list[CommentRow],
    source: RowSource,
    schema: pa.Schema,
    predictions: Sequence[PredictionColumn] = (),
) -> pa.RecordBatch:
    """The columns of ``rows``, built column by column.

    Labels are shared between rows by the row stream (the same majority object for every
    comment with the same answers), so label columns are converted once per distinct object
    and spread to the rows with ``take``: far fewer Python values to convert.
    """
    columns: dict[str, pa.Array] = {
        "article_id": pa.array([r.article_id for r in rows], pa.string()),
        "comment_id": pa.array([r.comment_id for r in rows], pa.string()),
        "parent_id": pa.array([r.parent_id for r in rows], pa.string()),
        "depth": pa.array([r.depth for r in rows], pa.int32()),
        "position": pa.array([r.position for r in rows], pa.int32()),
        "split": pa.array([r.split for r in rows], pa.string()),
        "author": pa.array([r.author for r in rows], pa.string()),
        "text": pa.array([r.text for r in rows], pa.string()),
        "posted_at": timestamps([r.posted_at for r in rows]),
        "meta": pa.array([r.meta for r in rows], pa.string()),
        "n_annotations": pa.array([len(r.annotations) for r in rows], pa.int32()),
    }
    questions = source.questions
    if source.final:
        finals, where = _distinct([r.final or {} for r in rows])
        for q in questions:
            values = pa.array([f.get(q.key) for f in finals], answer_type(q))
            columns[f"final__{q.key}"] = values.take(where)
    else:
        columns["annotations"] = _annotations(rows, schema.field("annotations").type)
        majorities, where = _distinct([r.majority for r in rows])
        for q in questions:
            key = q.key
            answers = [m[key] for m in majorities]
            columns[f"majority__{key}"] = pa.array([a.value for a in answers], answer_type(q)).take(
                where
            )
            columns[f"support__{key}"] = pa.array([a.support for a in answers], pa.float64()).take(
                where
            )
            columns[f"votes__{key}"] = pa.array([a.votes for a in answers], pa.int32()).take(where)
            columns[f"tied__{key}"] = pa.array(
                [list(a.tied) if a.tied else None for a in answers], pa.list_(pa.string())
            ).take(where)
    # Most batches have no gold at all (projects not yet reviewed): null columns straight away.
    any_gold = any(r.gold is not None for r in rows)
    if not source.final:
        golds = [r.gold.answers if r.gold is not None else {} for r in rows]
        for q in questions:
            columns[f"gold__{q.key}"] = (
                pa.array([g.get(q.key) for g in golds], answer_type(q))
                if any_gold
                else pa.nulls(len(rows), answer_type(q))
            )
    if any_gold:
        columns["gold_method"] = pa.array([r.gold and r.gold.method for r in rows], pa.string())
        columns["gold_by"] = pa.array([r.gold and r.gold.decided_by for r in rows], pa.string())
        columns["gold_at"] = timestamps([r.gold and r.gold.decided_at for r in rows])
    else:
        for name in ("gold_method", "gold_by", "gold_at"):
            columns[name] = pa.nulls(len(rows), schema.field(name).type)
    if predictions:
        _add_prediction_columns(columns, rows, schema, predictions)
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)


def _add_prediction_columns(
    columns: dict[str, pa.Array],
    rows: list[CommentRow],
    schema: pa.Schema,
    predictions: Sequence[PredictionColumn],
) -> None:
    """Each prediction column's answers and confidences (null where the model said nothing).

    Answers are shared objects (the reader parses each distinct answer once), so each
    column converts its distinct answers and spreads them with ``take``, as the label
    columns do.
    """
    nothing: dict = {}
    per_model: dict[str, list[dict]] = {}
    for column in predictions:
        models = per_model.get(column.model)
        if models is None:
            models = per_model[column.model] = [
                (r.predictions or nothing).get(column.model, nothing) for r in rows
            ]
        found = [m.get(column.question) for m in models]
        answers, where = _distinct([f["answer"] if f is not None else None for f in found])
        name = column.answer_name
        columns[name] = pa.array(answers, schema.field(name).type).take(where)
        columns[column.confidence_name] = pa.array(
            [f["confidence"] if f is not None else None for f in found], pa.float64()
        )


def timestamps(values: list[datetime | None]) -> pa.Array:
    """A ``TIME`` column of aware datetimes (or None).

    pyarrow converts aware datetimes to UTC instants itself; asked for a zone-typed array
    straight away it checks every value's zone on a slow path (0.4 s for 200,000 values
    against 0.09 s this way), so the values go in as plain timestamps and the column is
    then marked UTC, which does not change them.
    """
    return pa.array(values, NAIVE_TIME).cast(TIME)


def _distinct(values: list[Any]) -> tuple[list[Any], pa.Array]:
    """The distinct objects of ``values`` (by identity) and where each value is among them."""
    index: dict[int, int] = {}
    distinct: list[Any] = []
    where = []
    for value in values:
        position = index.get(id(value))
        if position is None:
            position = index[id(value)] = len(distinct)
            distinct.append(value)
        where.append(position)
    return distinct, pa.array(where, pa.int32())


def _annotations(rows: list[CommentRow], list_type: pa.ListType) -> pa.Array:
    """The ``annotations`` column: one list per row, built from flat child arrays."""
    offsets = [0]
    annotations: list[AnnotationRow] = []
    for row in rows:
        annotations.extend(row.annotations)
        offsets.append(len(annotations))
    struct_type = list_type.value_type
    answers, answers_at = _distinct([a.answers for a in annotations])
    under, under_at = _distinct([a.answered_under for a in annotations])
    stale, stale_at = _distinct([a.stale for a in annotations])  # most share one empty dict
    children = {
        "annotator": pa.array([a.annotator for a in annotations], pa.string()),
        "answers": pa.array(answers, struct_type.field("answers").type).take(answers_at),
        "scheme_version": pa.array([a.scheme_version for a in annotations], pa.int32()),
        "answered_under": pa.array(under, struct_type.field("answered_under").type).take(under_at),
        "time_spent_ms": pa.array([a.time_spent_ms for a in annotations], pa.int64()),
        "created_at": timestamps([a.created_at for a in annotations]),
        "updated_at": timestamps([a.updated_at for a in annotations]),
        "submitted_at": timestamps([a.submitted_at for a in annotations]),
        "flagged": pa.array([a.flagged for a in annotations], pa.bool_()),
        "note": pa.array([a.note for a in annotations], pa.string()),
        "stale": pa.array(stale, struct_type.field("stale").type).take(stale_at),
    }
    values = pa.StructArray.from_arrays(
        [children[f.name] for f in struct_type], fields=list(struct_type)
    )
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=list_type)
