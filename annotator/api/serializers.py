"""What the API sends and accepts: read-only representations of the domain models, plus the
two inputs the API takes, an import upload and export options.

Related objects are sent as ids (and usernames for people), never nested, so a list costs
one query whatever it holds; the views ``select_related``/``only`` exactly what is read here.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse
from rest_framework.utils import html

from annotator.corpus.importers.encoding import ENCODINGS
from annotator.corpus.models import Article, Comment, ImportJob, Project, Role
from annotator.corpus.permissions import Action, can
from annotator.datasets.models import ExportJob
from annotator.datasets.options import ExportFormat, ExportOptions, LabelSet
from annotator.labelling.models import Annotation
from annotator.labelling.scheme import KEY_PATTERN
from annotator.review.models import GoldLabel

PROJECT_LINKS = {
    "articles": "api:article_list",
    "comments": "api:comment_list",
    "annotations": "api:annotation_list",
    "gold": "api:gold_list",
    "agreement": "api:agreement",
    "imports": "api:import_list",
    "exports": "api:export_list",
}


class ErrorSerializer(serializers.Serializer):
    """The body of a 401, 403, 404, 405, 409 or 415: one sentence saying what is wrong."""

    detail = serializers.CharField()


class ProjectSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    role = serializers.ChoiceField(
        choices=Role.choices,
        source="member_role",
        allow_null=True,
        read_only=True,
        help_text="Your role in the project (null for a superuser who is not a member).",
    )

    class Meta:
        model = Project
        fields = ["slug", "name", "description", "created_at", "role", "url"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, project: Project) -> str:
        return reverse("api:project_detail", args=[project.slug], request=self.context["request"])


class ProjectDetailSerializer(ProjectSerializer):
    allowed_actions = serializers.SerializerMethodField(
        help_text="What your role lets you do here: view, label, review, export, import, manage."
    )
    links = serializers.SerializerMethodField(help_text="The project's lists in this API.")

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "allowed_actions", "links"]

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=list(Action))))
    def get_allowed_actions(self, project: Project) -> list[str]:
        user = self.context["request"].user
        return [str(action) for action in Action if can(user, action, project)]

    @extend_schema_field(
        {
            "type": "object",
            "properties": {name: {"type": "string", "format": "uri"} for name in PROJECT_LINKS},
            "required": list(PROJECT_LINKS),
        }
    )
    def get_links(self, project: Project) -> dict[str, str]:
        request = self.context["request"]
        return {
            name: reverse(url_name, args=[project.slug], request=request)
            for name, url_name in PROJECT_LINKS.items()
        }


class ArticleSerializer(serializers.ModelSerializer):
    comment_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Article
        fields = [
            "id",
            "source_id",
            "title",
            "url",
            "source",
            "published_at",
            "created_at",
            "comment_count",
        ]


class ArticleDetailSerializer(ArticleSerializer):
    class Meta(ArticleSerializer.Meta):
        fields = [*ArticleSerializer.Meta.fields, "body", "meta"]


class CommentSerializer(serializers.ModelSerializer):
    article = serializers.IntegerField(source="article_id", read_only=True)
    parent = serializers.IntegerField(
        source="parent_id", read_only=True, allow_null=True, help_text="Null: answers the article."
    )

    class Meta:
        model = Comment
        fields = [
            "id",
            "article",
            "parent",
            "source_id",
            "author",
            "text",
            "posted_at",
            "depth",
            "position",
            "path",
            "meta",
        ]


class AnnotationSerializer(serializers.ModelSerializer):
    article = serializers.IntegerField(source="comment.article_id", read_only=True)
    comment = serializers.IntegerField(source="comment_id", read_only=True)
    annotator = serializers.CharField(source="annotator.username", read_only=True)
    scheme_version = serializers.IntegerField(source="scheme.version", read_only=True)
    answers = serializers.DictField(
        read_only=True,
        help_text="Question key → answer: a string, or a list of strings for multiple choice.",
    )
    answered_under = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Question key → the scheme version the answer was given under.",
    )
    stale_answers = serializers.DictField(
        read_only=True,
        help_text=(
            "Question key → an answer set aside when the comment was re-parented: "
            "{value, parent_id, parent_source_id, marked_stale_at, scheme_version}. "
            "Never part of answers."
        ),
    )
    suggestions = serializers.DictField(
        read_only=True,
        help_text=(
            "Question key → the model suggestion the annotator was shown: {model, label, "
            "answer, confidence, mode ('after': shown once answered; 'preselect': selected "
            "before answering), before (the answer given before seeing it, mode 'after'), "
            "equals (the saved answer equals the suggestion)}. Empty when none was shown."
        ),
    )

    class Meta:
        model = Annotation
        fields = [
            "id",
            "article",
            "comment",
            "annotator",
            "scheme_version",
            "answers",
            "answered_under",
            "stale_answers",
            "suggestions",
            "status",
            "skip_reason",
            "flagged",
            "note",
            "time_spent_ms",
            "created_at",
            "updated_at",
            "submitted_at",
        ]


class GoldLabelSerializer(serializers.ModelSerializer):
    article = serializers.IntegerField(source="comment.article_id", read_only=True)
    comment = serializers.IntegerField(source="comment_id", read_only=True)
    scheme_version = serializers.IntegerField(source="scheme.version", read_only=True)
    answers = serializers.DictField(
        read_only=True,
        help_text="Question key → the settled answer: a string, or a list of strings for "
        "multiple choice.",
    )
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )
    stale_answers = serializers.DictField(
        read_only=True,
        help_text=(
            "Question key → a gold answer set aside when the comment was re-parented: "
            "{value, parent_id, parent_source_id, marked_stale_at, scheme_version}. "
            "Never part of answers."
        ),
    )
    needs_review = serializers.BooleanField(
        read_only=True,
        help_text="A move left this gold without an answer it needs; it is back in review.",
    )

    class Meta:
        model = GoldLabel
        fields = [
            "id",
            "article",
            "comment",
            "scheme_version",
            "answers",
            "stale_answers",
            "needs_review",
            "method",
            "note",
            "decided_by",
            "decided_at",
            "revision",
        ]


class AgreementFigureSerializer(serializers.Serializer):
    question = serializers.CharField(
        help_text="Question key, or `KEY=VALUE` for one value of a "
        "multiple-choice question measured as yes/no."
    )
    subset = serializers.ChoiceField(
        choices=["all", "top-level", "replies", "stance-comparison"],
        help_text="Which comments: all, top-level (answering the article), replies, or the "
        "replies on which the same annotators answered both stance questions.",
    )
    measure = serializers.ChoiceField(
        choices=[
            "krippendorff_alpha",
            "fleiss_kappa",
            "percent_agreement",
            "cohen_kappa",
            "pair_percent_agreement",
        ]
    )
    annotator_a = serializers.CharField(help_text="For pair measures; empty otherwise.")
    annotator_b = serializers.CharField(help_text="For pair measures; empty otherwise.")
    value = serializers.FloatField(allow_null=True, help_text="Null where it cannot be computed.")
    ci_low = serializers.FloatField(allow_null=True, help_text="Bootstrap 95% interval.")
    ci_high = serializers.FloatField(allow_null=True)
    comments = serializers.IntegerField(help_text="Comments labelled by at least two annotators.")


class AgreementSerializer(serializers.Serializer):
    figures = AgreementFigureSerializer(many=True)


class ImportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField(help_text="This import in the browser.")
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    percent = serializers.IntegerField(read_only=True, help_text="Share of the file read, 0-100.")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "url",
            "page",
            "status",
            "format",
            "original_name",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "total_bytes",
            "processed_bytes",
            "percent",
            "articles_added",
            "comments_added",
            "comments_unchanged",
            "error",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job: ImportJob) -> str:
        return reverse(
            "api:import_detail",
            args=[self.context["slug"], job.pk],
            request=self.context["request"],
        )

    @extend_schema_field(OpenApiTypes.URI)
    def get_page(self, job: ImportJob) -> str:
        return reverse(
            "corpus:import_detail",
            args=[self.context["slug"], job.pk],
            request=self.context["request"],
        )


class FormChoiceField(serializers.ChoiceField):
    """A choice in a multipart form, where DRF reads an empty value as "not given" (as a
    browser form means it); from a script it is a mistake, refused as an invalid choice."""

    def get_value(self, dictionary):
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


@extend_schema_field({"type": "string", "format": "binary", "minLength": 1})
class UploadField(serializers.FileField):
    """A file that must not be empty (the upload form refuses it, naming the file)."""


class ImportUploadSerializer(serializers.Serializer):
    """A file to import and, optionally, its format (checked like the browser's upload)."""

    file = UploadField(
        help_text="JSON Lines, CSV, a Disqus XML export, the scraped text of a thread, a "
        "platform's or annotation tool's export (docs/formats.md); also .gz, .zst or ZIP.",
        allow_empty_file=True,  # refused by the upload form, with the file's name
    )
    format = FormChoiceField(
        choices=ImportJob.Format.choices,
        default=ImportJob.Format.AUTO,
        help_text="Detected from the file by default. Scraped text waits for an admin's "
        "review in the browser before it is imported.",
    )
    encoding = FormChoiceField(
        choices=[("", "UTF-8"), *ENCODINGS.items()],
        default="",
        help_text="The file's encoding when it is not UTF-8 (a refusal names the one it "
        "looks like).",
    )


DEFAULT_EXPORT = ExportOptions()


class JsonTypeMixin:
    """Accept only the JSON type the schema promises: DRF's fields also take ``"yes"`` for
    true, ``false`` for 0.0 and ``7`` for ``"7"``, which hides a client's mistake."""

    json_types: tuple[type, ...] = ()

    def to_internal_value(self, data):
        is_bool = isinstance(data, bool)
        if not isinstance(data, self.json_types) or is_bool != (bool in self.json_types):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonBooleanField(JsonTypeMixin, serializers.BooleanField):
    json_types = (bool,)


class JsonIntegerField(JsonTypeMixin, serializers.IntegerField):
    json_types = (int,)


class JsonFloatField(JsonTypeMixin, serializers.FloatField):
    json_types = (int, float)


class JsonCharField(JsonTypeMixin, serializers.CharField):
    json_types = (str,)


class ExportOptionsSerializer(serializers.Serializer):
    """What to export, as on the export page; ``start_export`` checks it against the scheme."""

    format = serializers.ChoiceField(choices=[str(f) for f in ExportFormat], default="jsonl")
    questions = serializers.ListField(
        child=JsonCharField(max_length=50, validators=[RegexValidator(KEY_PATTERN)]),
        default=list,
        help_text="Question keys of the current scheme; empty or left out: every question.",
    )
    labels = serializers.ChoiceField(
        choices=[str(s) for s in LabelSet],
        default="all",
        help_text="`all`: every annotator's answers, the majority and gold; `final`: gold "
        "where set, else the majority; `gold`: only the gold answers reviewers settled.",
    )
    include_unlabelled = JsonBooleanField(default=DEFAULT_EXPORT.include_unlabelled)
    pseudonymise = JsonBooleanField(
        default=DEFAULT_EXPORT.pseudonymise,
        help_text="Annotators and comment authors get stable codes within this export.",
    )
    split = JsonBooleanField(
        default=DEFAULT_EXPORT.split, help_text="Split into train, dev and test by thread."
    )
    split_seed = JsonIntegerField(
        default=DEFAULT_EXPORT.split_seed, min_value=0, max_value=2**31 - 1
    )
    split_ratios = serializers.ListField(
        child=JsonFloatField(min_value=0, max_value=1),
        min_length=3,
        max_length=3,
        default=list(DEFAULT_EXPORT.split_ratios),
        help_text="Train, dev and test shares, adding up to 1.",
    )
    spreadsheet_safe = JsonBooleanField(
        default=DEFAULT_EXPORT.spreadsheet_safe,
        help_text="CSV only: text cells starting with = + - @ (or a tab or carriage return) "
        "get a leading ' so spreadsheets do not run them as formulas. Off: texts verbatim.",
    )
    changed_since = serializers.DateTimeField(
        allow_null=True,
        default=None,
        help_text="Only comments whose labels changed at or after this time.",
    )
    predictions = JsonBooleanField(
        allow_null=True,
        default=None,
        help_text="The newest version of each model's predictions, in fields of their own "
        "(`predictions` in JSON, `pred__MODEL__KEY` columns). Left out or null: included "
        "when the project has models.",
    )

    def to_options(self) -> ExportOptions:
        """The validated data as ``ExportOptions`` (call after ``is_valid()``)."""
        data = self.validated_data
        return ExportOptions(
            format=ExportFormat(data["format"]),
            questions=tuple(dict.fromkeys(data["questions"])),
            labels=LabelSet(data["labels"]),
            include_unlabelled=data["include_unlabelled"],
            pseudonymise=data["pseudonymise"],
            split=data["split"],
            split_seed=data["split_seed"],
            split_ratios=tuple(data["split_ratios"]),
            changed_since=data["changed_since"],
            spreadsheet_safe=data["spreadsheet_safe"],
            predictions=data["predictions"],
        )


class ExportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField(help_text="This export in the browser.")
    download = serializers.SerializerMethodField(
        help_text="Where to fetch the zip once `status` is `succeeded`; null until then."
    )
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    options = serializers.DictField(read_only=True, help_text="The options asked for.")
    percent = serializers.IntegerField(read_only=True, help_text="Share of comments done, 0-100.")

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "url",
            "page",
            "download",
            "status",
            "format",
            "options",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "comments_total",
            "comments_done",
            "percent",
            "size_bytes",
            "filename",
            "error",
        ]

    def _url(self, name: str, job: ExportJob) -> str:
        return reverse(name, args=[self.context["slug"], job.pk], request=self.context["request"])

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job: ExportJob) -> str:
        return self._url("api:export_detail", job)

    @extend_schema_field(OpenApiTypes.URI)
    def get_page(self, job: ExportJob) -> str:
        return self._url("datasets:export_detail", job)

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_download(self, job: ExportJob) -> str | None:
        return self._url("api:export_download", job) if job.is_downloadable else None
