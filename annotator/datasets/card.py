"""The dataset card: a README.md that travels with every export.

It says what the files hold and how they were made (project, date, options), defines every
label (the scheme versions the answers were given under, with each question's choices),
gives the counts and label distribution the row stream collected while it ran (no second
reading of the database), and shows how to load the data file with pandas, Hugging Face
``datasets`` and pyarrow.
"""

from __future__ import annotations

from datetime import datetime

from annotator.datasets.card_models import models_section, prediction_fields
from annotator.datasets.figures import AgreementFigures
from annotator.datasets.options import ExportFormat, LabelSet
from annotator.datasets.rows import RowSource
from annotator.labelling.scheme import Kind, Question
from annotator.review.agreement import Estimate

LABEL_SETS = {
    LabelSet.ALL: "every annotator's submitted answers, the majority per question, and the "
    "gold answers where a reviewer set them",
    LabelSet.FINAL: "one final answer per question: the gold answer where a reviewer set one, "
    "otherwise the majority answer, none on a tie",
    LabelSet.GOLD: "the reviewers' gold answers only; none where no gold was set",
}

KIND_NAMES = {
    Kind.SINGLE: "single choice",
    Kind.MULTIPLE: "multiple choice (any number of choices)",
    Kind.YES_NO: "yes / no",
    Kind.TEXT: "free text",
}


def dataset_card(
    source: RowSource,
    *,
    data_file: str,
    exported_at: datetime,
    agreement: AgreementFigures | None = None,
    notes: list[str] | None = None,
) -> str:
    """The Markdown card of an export, once ``source`` has been streamed to the end.

    ``notes``: what a folder-layout exporter says about its files (``exporters/__init__``).
    """
    project, options, stats = source.project, source.options, source.stats
    lines = [
        f"# {project.name}: reader comments and their labels",
        "",
        f"Exported from comment-annotator project `{project.slug}` on "
        f"{exported_at:%Y-%m-%d %H:%M} UTC.",
    ]
    if project.description:
        lines += ["", project.description.strip()]
    lines += ["", "## Files", "", *_files(source, data_file)]
    if notes:
        lines += ["", *notes]
    lines += ["", "## Contents", "", "| | count |", "|---|---:|"]
    lines += [
        f"| articles (threads) | {stats.articles:,} |",
        f"| comments | {stats.comments:,} |",
        f"| labelled comments (at least one submitted annotation) | {stats.labelled_comments:,} |",
        f"| submitted annotations | {stats.annotations:,} |",
        f"| annotators | {stats.annotator_count:,} |",
        f"| comments with a gold label (settled by a reviewer) | {stats.gold_comments:,} |",
    ]
    if stats.context_comments:
        lines.append(
            f"| context comments (ancestors of kept comments, no labels) | "
            f"{stats.context_comments:,} |"
        )
    lines += ["", "## Export options", "", *_options(source)]
    if options.split:
        lines += ["", "## Splits", "", *_splits(source)]
    lines += ["", "## Labels", "", *_labels(source)]
    lines += ["", "## Label distribution", "", *_distribution(source)]
    if stats.gold_comments:
        lines += ["", "## Gold labels", "", *_gold(source)]
    if agreement is not None:
        lines += ["", "## Agreement between annotators", "", *_agreement(agreement)]
    if source.carries_predictions:
        lines += ["", "## Models", "", *models_section(source)]
    lines += ["", "## How to load it", "", *_loading(options.format, data_file)]
    lines += ["", "## Fields", "", *_fields(source, data_file)]
    return "\n".join(lines) + "\n"


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _files(source: RowSource, data_file: str) -> list[str]:
    fmt = source.options.format
    what = {
        ExportFormat.JSONL: "JSON Lines: an article's record, then its comments in reply-tree "
        "order; it re-imports into comment-annotator",
        ExportFormat.JSON: "one JSON document: articles, each with its nested comment tree",
        ExportFormat.CSV: "CSV: one row per comment",
        ExportFormat.PARQUET: "Parquet: one row per comment, typed columns",
        ExportFormat.CONVOKIT: "a ConvoKit corpus (`utterances.jsonl`, `conversations.json`, "
        "`speakers.json`, `corpus.json`, `index.json`): each article is the root utterance of "
        "its conversation, each comment an utterance replying to its parent",
        ExportFormat.RUMOUREVAL: "threads laid out as SemEval RumourEval / PHEME distributed "
        "them: per article a folder with `source-tweet/`, `replies/` (one tweet-shaped JSON "
        "object a file) and `structure.json` (the reply tree), and at the top the stance key "
        "(`key.json`, or `train-key.json`, `dev-key.json`, `test-key.json` with a split)",
    }[fmt]
    return [
        f"- `{data_file}`: {what}.",
        "- `agreement.csv`: every agreement figure of the exported comments (see below), one "
        "row per measure, question, subset and pair of annotators.",
        "- `README.md`: this card.",
    ]


def _options(source: RowSource) -> list[str]:
    options = source.options
    questions = ", ".join(f"`{key}`" for key in source.question_keys)
    lines = [
        f"- format: `{options.format}`",
        f"- labels: `{options.labels}` ({LABEL_SETS[options.labels]})",
        f"- questions: {questions}",
        f"- unlabelled comments: {'included' if options.include_unlabelled else 'left out'}",
        f"- pseudonymised: {'yes' if options.pseudonymise else 'no'}",
    ]
    if options.format == ExportFormat.CSV:
        lines.append(
            "- spreadsheet-safe cells: yes: text cells that began with `=`, `+`, `-`, `@`, a "
            "tab or a carriage return start with an added `'` (strip it before analysis)"
            if options.spreadsheet_safe
            else "- spreadsheet-safe cells: no: texts are verbatim, so a cell may start with "
            "`=` or `+`; open the file in a spreadsheet only with formulas disabled"
        )
    if source.carries_predictions:
        lines.append("- model predictions: included, the newest version of each model (see Models)")
    if options.changed_since:
        lines.append(
            f"- only comments whose annotations changed since "
            f"{options.changed_since:%Y-%m-%d %H:%M %Z}".rstrip()
        )
    if options.split:
        ratios = " / ".join(f"{r:g}" for r in options.split_ratios)
        seed = options.split_seed
        lines.append(f"- split: by thread, train / dev / test = {ratios}, seed {seed}")
    else:
        lines.append("- split: none (the `split` field is empty)")
    if options.pseudonymise:
        lines += [
            "",
            "Annotators are named `annotator-1` ... and comment authors `author-1` ..., "
            "numbered in the order they first appear in this export; the numbers are not "
            "comparable between exports. Comments' `meta` is left empty (importers keep "
            "source user names there). Comment texts and annotators' notes are unchanged "
            "and may still mention names.",
        ]
    if source.with_context:
        lines += [
            "",
            "The filter keeps some comments only; their ancestors come along as context rows "
            "(`context: true`, no labels) so that every reply tree stays whole.",
        ]
    return lines


def _splits(source: RowSource) -> list[str]:
    stats = source.stats
    lines = ["| split | articles | comments |", "|---|---:|---:|"]
    for name in ("train", "dev", "test"):
        lines.append(
            f"| {name} | {stats.split_articles[name]:,} | {stats.split_comments[name]:,} |"
        )
    lines += [
        "",
        "Whole threads go to one split: article ids are sorted, shuffled with Python's "
        "`random.Random(seed)` and cut by the ratios, over every article of the project, so "
        "the same corpus and seed give the same split.",
    ]
    return lines


def _labels(source: RowSource) -> list[str]:
    used = source.stats.scheme_versions or {source.scheme.version}
    keys = set(source.question_keys)
    lines = [
        "Only submitted annotations are exported (drafts and skipped comments are not). "
        "Each question's **majority** is taken over the annotators who answered it (`votes`): "
        "the most frequent answer, with `support` = share of the voters who gave it (`agree` "
        "of `votes`). A tie gives no majority and lists the tied answers in `tied`. "
        "Multiple-choice answers are voted choice by choice: the majority is the set of "
        "choices picked by more than half of the voters (a choice picked by exactly half is "
        "a tie), and `agree` counts the annotators who gave exactly that set. Free-text "
        "answers are voted by exact text. Answers are voted by value whatever scheme version "
        "they were given under (`answered_under` says which).",
    ]
    for scheme in source.schemes:
        if scheme.version not in used and scheme is not source.scheme:
            continue
        current = " (current)" if scheme is source.scheme else ""
        lines += ["", f"### Scheme version {scheme.version}{current}"]
        for question in scheme.scheme.questions:
            if question.key in keys:
                lines += ["", *_question(question)]
    return lines


def _question(question: Question) -> list[str]:
    lines = [f"#### `{question.key}`: {question.title}", ""]
    details = [KIND_NAMES[question.kind]]
    if not question.required:
        details.append("optional")
    if question.replies_only:
        details.append("asked for replies only")
    if question.show_if:
        values = ", ".join(f"`{v}`" for v in question.show_if.values)
        details.append(f"asked only when `{question.show_if.question}` is {values}")
    summary = "; ".join(details)
    lines.append(summary[:1].upper() + summary[1:] + ".")
    if question.help:
        lines += ["", question.help]
    if question.choices:
        lines += ["", "| value | label | meaning |", "|---|---|---|"]
        for choice in question.choices:
            meaning = choice.description
            if choice.exclusive:
                meaning = (meaning + " " if meaning else "") + "(cannot be combined)"
            lines.append(f"| `{choice.value}` | {_cell(choice.label)} | {_cell(meaning)} |")
    return lines


def _distribution(source: RowSource) -> list[str]:
    stats = source.stats
    column = "final answer" if source.final else "majority"
    lines = [
        f"Per question, over the {stats.labelled_comments:,} labelled comments: how often each "
        f"value is the {column} (a comment counts once per chosen value of a multiple-choice "
        "answer), and how often annotators gave it.",
    ]
    for question in source.questions:
        key = question.key
        majority = stats.majority.get(key, {})
        answers = stats.answers.get(key, {})
        lines += [
            "",
            f"### `{key}`",
            "",
            f"| value | {column} | all answers |",
            "|---|---:|---:|",
        ]
        if question.kind == Kind.TEXT:  # free texts are counted, not listed
            given, total = sum(majority.values()), sum(answers.values())
            values: list[str] = []
            lines.append(f"| (free text) | {given:,} | {total:,} |")
        else:
            values = [c.value for c in question.choices]
            values += sorted(v for v in set(majority) | set(answers) if v not in values)
        for value in values:
            given, total = majority.get(value, 0), answers.get(value, 0)
            lines.append(f"| `{_cell(value)}` | {given:,} | {total:,} |")
        lines.append(f"| (tie: no majority) | {stats.ties[key]:,} | |")
        lines.append(f"| (not answered) | {stats.unanswered[key]:,} | |")
    return lines


def _gold(source: RowSource) -> list[str]:
    stats = source.stats
    methods = stats.gold_methods
    lines = [
        f"{stats.gold_comments:,} comments have a gold label: "
        f"{methods.get('adjudicated', 0):,} settled by a reviewer who saw every annotator's "
        f"answers, {methods.get('accepted', 0):,} accepted because every annotator gave the "
        "same answers. Gold answers are kept apart from the annotators' own; per question, "
        "how often each value is the gold answer:",
    ]
    for question in source.questions:
        key = question.key
        counts = stats.gold.get(key, {})
        if not counts:
            continue
        lines += ["", f"### `{key}`", "", "| value | gold |", "|---|---:|"]
        values = [c.value for c in question.choices]
        values += sorted(v for v in counts if v not in values)
        for value in values:
            if value in counts:
                lines.append(f"| `{_cell(value)}` | {counts[value]:,} |")
    return lines


def _figure(estimate: Estimate) -> str:
    if estimate.value is None:
        return "n/a"
    if estimate.low is None or estimate.high is None:
        return f"{estimate.value:.3f}"
    return f"{estimate.value:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"


def _agreement(figures: AgreementFigures) -> list[str]:
    rows = [*figures.table, *figures.stance.values()]
    if not any(row.percent.units for row in rows):
        return ["Not measured yet: no comment has submitted labels from two or more annotators."]
    lines = [
        "Over the submitted labels of the comments in this export, per question: "
        "Krippendorff's alpha (nominal), Fleiss' kappa (only where every comment has the "
        "same number of labels) and raw percent agreement, each with a "
        "bootstrap 95% interval (1,000 resamples of comments, seed 0) and the number of "
        "comments labelled by at least two annotators it rests on. A multiple-choice question "
        "is measured per value, as yes/no (`KEY=VALUE`). Subsets: top-level comments "
        "(answering the article) and replies. Cohen's kappa for every pair of annotators is "
        "in `agreement.csv`.",
        "",
        "| question | subset | alpha | Fleiss' kappa | % agreement | comments |",
        "|---|---|---|---|---|---:|",
    ]
    for row in figures.table:
        lines.append(
            f"| `{_cell(row.question)}` | {row.subset} | {_figure(row.alpha)} | "
            f"{_figure(row.fleiss)} | {_figure(row.percent)} | {row.percent.units:,} |"
        )
    if figures.stance:
        lines += [
            "",
            "Stance toward the article and toward the parent comment, on the same replies "
            "and the same annotators (those who answered both):",
            "",
            "| question | alpha | % agreement | replies |",
            "|---|---|---|---:|",
        ]
        for key, row in figures.stance.items():
            lines.append(
                f"| `{key}` | {_figure(row.alpha)} | {_figure(row.percent)} | "
                f"{row.percent.units:,} |"
            )
    return lines


def _loading(fmt: ExportFormat, data_file: str) -> list[str]:
    if fmt == ExportFormat.JSONL:
        return [
            "```python",
            "import pandas as pd",
            'ids = {"id": str, "article_id": str, "parent_id": str}',
            f'records = pd.read_json("{data_file}", lines=True, dtype=ids)',
            'comments = records[records["type"] == "comment"]',
            "",
            "from datasets import load_dataset",
            f'ds = load_dataset("json", data_files="{data_file}", split="train")',
            'comments = ds.filter(lambda r: r["type"] == "comment")',
            "",
            "import pyarrow.json",
            f'table = pyarrow.json.read_json("{data_file}")',
            "```",
            "",
            "Ids are strings; tell pandas so (`dtype`), or ids like `007` lose their zeros. "
            "`comment-annotator` imports the file back as it is: "
            f"`python manage.py import_threads {data_file} --project SLUG`.",
        ]
    if fmt == ExportFormat.JSON:
        return [
            "```python",
            "import json",
            f'with open("{data_file}", encoding="utf-8") as f:',
            '    articles = json.load(f)["articles"]',
            "",
            "import pandas as pd",
            "comments = pd.json_normalize(",
            '    articles, record_path="comments", meta=[["id"]], meta_prefix="article.")',
            '# top-level comments only; walk each comment\'s "replies" for the rest',
            "",
            "from datasets import load_dataset",
            f'ds = load_dataset("json", data_files="{data_file}", field="articles", split="train")',
            "```",
        ]
    if fmt == ExportFormat.CSV:
        return [
            "```python",
            "import pandas as pd",
            'ids = {"article_id": str, "comment_id": str, "parent_id": str}',
            f'df = pd.read_csv("{data_file}", dtype=ids, keep_default_na=False, na_values=[""])',
            "",
            "from datasets import load_dataset",
            f'ds = load_dataset("csv", data_files="{data_file}", split="train")',
            "",
            "import pyarrow.csv",
            f'table = pyarrow.csv.read_csv("{data_file}")',
            "```",
            "",
            "Multiple-choice answers are joined with `|`: "
            '`df["majority__KEY"].str.split("|")` turns them back into lists.',
        ]
    if fmt == ExportFormat.CONVOKIT:
        folder = data_file.rstrip("/")
        return [
            "```python",
            "import pandas as pd",
            'ids = {"id": str, "conversation_id": str, "reply-to": str}',
            f'utterances = pd.read_json("{folder}/utterances.jsonl", lines=True, dtype=ids)',
            "",
            "from datasets import load_dataset",
            f'ds = load_dataset("json", data_files="{folder}/utterances.jsonl", split="train")',
            "```",
            "",
            "With ConvoKit (`pip install convokit`):",
            "",
            "```python",
            "from convokit import Corpus",
            f'corpus = Corpus(filename="{folder}")',
            "comments = corpus.get_utterances_dataframe().query(\"`meta.type` == 'comment'\")",
            "```",
        ]
    if fmt == ExportFormat.RUMOUREVAL:
        folder = data_file.rstrip("/")
        return [
            "```python",
            "import json, pathlib",
            f'root = pathlib.Path("{folder}")',
            "labels = {}  # comment id -> support / deny / query / comment",
            'for key in root.glob("*key.json"):',
            '    labels.update(json.loads(key.read_text(encoding="utf-8"))["subtaskaenglish"])',
            "threads = {}",
            "for thread in sorted(p for p in root.iterdir() if p.is_dir()):",
            '    [source] = [json.loads(p.read_text(encoding="utf-8"))',
            '                for p in (thread / "source-tweet").glob("*.json")]',
            '    replies = [json.loads(p.read_text(encoding="utf-8"))',
            '               for p in (thread / "replies").glob("*.json")]',
            '    structure = json.loads((thread / "structure.json").read_text(encoding="utf-8"))',
            '    threads[source["id_str"]] = (source, replies, structure)',
            "",
            "from datasets import load_dataset",
            f'ds = load_dataset("json", data_files="{folder}/*/replies/*.json", split="train")',
            "```",
            "",
            "File and folder names are the ids with characters other than letters, digits, "
            "`-`, `_` and `.` percent-encoded (`urllib.parse.unquote` gives the id back); "
            "the ids themselves are in the files.",
        ]
    return [
        "```python",
        "import pandas as pd",
        f'df = pd.read_parquet("{data_file}")',
        "",
        "from datasets import load_dataset",
        f'ds = load_dataset("parquet", data_files="{data_file}", split="train")',
        "",
        "import pyarrow.parquet as pq",
        f'table = pq.read_table("{data_file}")',
        "```",
    ]


def _fields(source: RowSource, data_file: str) -> list[str]:
    fmt = source.options.format
    if fmt == ExportFormat.CONVOKIT:
        return _convokit_fields(source)
    if fmt == ExportFormat.RUMOUREVAL:
        return _rumoureval_fields()
    common = [
        "- `article_id`, `comment_id` (`id` in JSON): the source's own ids; `parent_id`: the "
        "comment this one replies to, empty for a reply to the article.",
        "- `depth`: 0 for a reply to the article; `position`: order among its siblings, from 1.",
        "- `split`: `train`, `dev` or `test`, the same for every comment of a thread.",
        "- `author`, `text`, `posted_at` (ISO 8601, UTC), `meta` (JSON, as imported).",
        "- `n_annotations`: submitted annotations of the comment.",
    ]
    gold_fields = (
        "- `gold`: the reviewer's gold label, null where none: `answers`, `method` "
        "(`adjudicated` or `accepted` when all annotators agreed), `decided_by`, "
        "`decided_at`, `scheme_version`."
        if fmt in (ExportFormat.JSONL, ExportFormat.JSON)
        else "- `gold_method` (`adjudicated`, or `accepted` when all annotators agreed), "
        "`gold_by`, `gold_at`: who settled the comment's gold label and when; empty where none."
    )
    if fmt in (ExportFormat.JSONL, ExportFormat.JSON):
        labels = (
            ["- `final`: per question, the final answer (null: none; see Export options)."]
            if source.final
            else [
                "- `annotations`: one object per submitted annotation: `annotator`, "
                "`answers` (question → answer; a list for multiple choice), "
                "`scheme_version`, `answered_under` (question → version), `time_spent_ms`, "
                "`created_at`, `updated_at`, `submitted_at`, `flagged` (for review), `note`, "
                "`stale` (question → `value`, `answered_toward_parent`, `marked_stale_at`: "
                "answers given toward a parent the comment no longer has, counted nowhere).",
                "- `majority`: per question `value`, `support`, `agree`, `votes`, `tied`.",
            ]
        )
        extra = ["- `context`: true for an ancestor included only to keep the tree whole."]
        if fmt == ExportFormat.JSON:
            extra.append("- `replies`: the comments answering this one, in order.")
        if source.carries_predictions:
            labels += prediction_fields(source, flat=False)
        return [*common, *extra, *labels, gold_fields]
    if source.final:
        labels = ["- `final__KEY`: the final answer to question KEY (empty: none)."]
    else:
        labels = [
            "- `majority__KEY`, `support__KEY`, `votes__KEY`, `tied__KEY`: the majority "
            "answer to question KEY, its support, how many answered, the tied answers.",
        ]
        if fmt == ExportFormat.CSV:
            labels.append(
                "- `ANNOTATOR__KEY`: that annotator's submitted answer (one column per "
                "annotator and question); `stale__ANNOTATOR`: their answers set aside when "
                "the comment was re-parented (JSON text; empty: none), counted nowhere."
            )
        else:
            labels.append(
                "- `annotations`: list of structs `annotator`, `answers`, `scheme_version`, "
                "`answered_under`, `time_spent_ms`, `created_at`, `updated_at`, "
                "`submitted_at`, `flagged`, `note`, `stale` (per question `value`, "
                "`answered_toward_parent`, `marked_stale_at`; null unless that answer was "
                "set aside when the comment was re-parented)."
            )
        labels.append("- `gold__KEY`: the gold answer to question KEY (empty: no gold).")
    labels.append(gold_fields)
    if source.carries_predictions:
        labels += prediction_fields(source, flat=True)
    if fmt == ExportFormat.CSV:
        labels.append("- Multiple-choice answers are joined with `|`; an empty cell is no value.")
    return [*common, *labels]


def _convokit_fields(source: RowSource) -> list[str]:
    labels = (
        "`final` (per question, the final answer)"
        if source.final
        else "`annotations` (each annotator's submitted answers, as in JSON Lines) and "
        "`majority` (per question `value`, `support`, `agree`, `votes`, `tied`)"
    )
    return [
        "- Utterance `id`: the source's id of the article or comment (see the note under Files "
        "when ids repeat); `conversation_id`: the article's id; `reply-to`: the parent "
        "comment's id, or the article's for a top-level comment, null for an article.",
        "- `speaker`: the comment's author (empty when unknown), or the article's source "
        "(`article` when none); `text` as imported (an article's: title, blank line, body); "
        "`timestamp`: Unix seconds, never null (ConvoKit orders replies by it): an undated "
        "comment takes its parent's, and its `meta.posted_at` is null.",
        "- Article utterances' `meta`: `type` (`article`), `article_id`. Comment utterances' "
        "`meta`: `type` (`comment`), `comment_id`, `article_id`, `parent_id` (the source "
        "ids; null parent: the article), `posted_at` (ISO 8601, UTC), `meta` (as imported), "
        "`depth`, `position`, `split`, `context` (an ancestor kept only so the tree stays "
        f"whole, no labels), `n_annotations`, {labels}, `gold` (the reviewer's gold label or "
        "null)"
        + (", `predictions` (per model and question)." if source.carries_predictions else "."),
        "- Conversations' `meta`: the article's `article_id`, `title`, `url`, `source`, "
        "`published_at`, `split` and `meta`.",
    ]


def _rumoureval_fields() -> list[str]:
    return [
        "- Tweet objects (`source-tweet/ID.json` for the article, `replies/ID.json` for each "
        "comment): `id_str` (the id), `id` (the same, a number where the id is one), `text` "
        "(an article's: title, blank line, body), `created_at` (Twitter's format, UTC; null "
        "when unknown), `in_reply_to_status_id_str` (the parent comment, or the article for a "
        "top-level comment; null for the article), `user.screen_name` and `user.name` (the "
        "author, empty when unknown; the article's source).",
        "- `structure.json`: the thread's reply tree, `{ARTICLE_ID: {COMMENT_ID: {...}}}`, "
        "`[]` for a comment without replies.",
        '- The key: `{"subtaskaenglish": {COMMENT_ID: LABEL}}`, the final answer to '
        "`stance_article` (stance toward the article's claim): `support`, `deny`, `query` or "
        "`comment`. Comments without a final answer (unlabelled, tied, context) are not in it.",
    ]
