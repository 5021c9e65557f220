"""The API of model assistance: importing predictions, an import's run, the project's models.

The upload goes through the browser's steps (assist/import_views.py): the same form checks,
the same run row, imported during the request when small (201, the run is finished: a
refused file is ``failed`` with the refused lines in ``report``) or by the worker when large
(202: poll the run's ``url``). Only project admins import (``Action.MANAGE``); reviewers and
researchers read runs and models (``Action.RESULTS``), as on the models page.
"""

from __future__ import annotations

from django.db.models import Count, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from annotator.api.pagination import ApiCursorPagination
from annotator.api.permissions import ProjectScopedMixin
from annotator.api.serializers import UploadField
from annotator.api.views import (
    SLUG,
    InsufficientStorage,
    errors,
    is_schema_generation,
    store_refusal,
)
from annotator.assist.forms import PredictionsUploadForm
from annotator.assist.import_views import create_import_run, start_import_run
from annotator.assist.models import MachineLabeller, PredictionRun, is_newest_version
from annotator.corpus.permissions import Action
from annotator.corpus.upload_handlers import upload_ran_out_of_space
from annotator.corpus.uploads import NO_SPACE_MESSAGE, StoreFailed

RUN_ID = OpenApiParameter(
    "run_id", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH, description="Run id."
)


class PredictionsUploadSerializer(serializers.Serializer):
    """A JSON Lines file of predictions (checked like the browser's upload)."""

    file = UploadField(
        help_text="JSON Lines, one line per comment (docs/formats.md, Predictions).",
        allow_empty_file=True,  # refused by the upload form, with the file's name
    )


class PredictionRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField(help_text="This run in the browser.")
    model = serializers.CharField(
        source="labeller.label", read_only=True, default=None, allow_null=True
    )
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    percent = serializers.IntegerField(read_only=True, help_text="Share done, 0-100.")
    report = serializers.JSONField(
        read_only=True,
        help_text="An import's counts per model (`models`), or its refused lines (`errors`: "
        "file, line, reason; the first 20) and `error_count`.",
    )

    class Meta:
        model = PredictionRun
        fields = [
            "id",
            "url",
            "page",
            "kind",
            "status",
            "model",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "total",
            "done",
            "failed",
            "percent",
            "report",
            "error",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, run: PredictionRun) -> str:
        return reverse(
            "api:prediction_run_detail",
            args=[self.context["slug"], run.pk],
            request=self.context["request"],
        )

    @extend_schema_field(OpenApiTypes.URI)
    def get_page(self, run: PredictionRun) -> str:
        return reverse(
            "assist:run_detail",
            args=[self.context["slug"], run.pk],
            request=self.context["request"],
        )


class ModelSerializer(serializers.ModelSerializer):
    newest = serializers.BooleanField(
        read_only=True, help_text="The newest version of its name (the one pages use)."
    )
    predictions = serializers.IntegerField(read_only=True, source="prediction_count")
    failures = serializers.IntegerField(read_only=True, source="failure_count")

    class Meta:
        model = MachineLabeller
        fields = [
            "id",
            "name",
            "version",
            "label",
            "kind",
            "newest",
            "config",
            "quality",
            "suggestions",
            "orders_work",
            "created_at",
            "predictions",
            "failures",
        ]


class RunMixin(ProjectScopedMixin):
    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "slug": self.kwargs["slug"]}

    def get_queryset(self) -> QuerySet[PredictionRun]:
        if is_schema_generation(self):
            return PredictionRun.objects.none()
        return PredictionRun.objects.filter(project=self.project).select_related(
            "labeller", "created_by"
        )


@extend_schema(
    summary="Import predictions",
    tags=["models"],
    description="Upload a JSON Lines file of predictions (multipart, field `file`; the format "
    "is in docs/formats.md, Predictions). Every line is checked first; one bad line refuses "
    "the whole file and nothing is written. A small file is imported during the request "
    "(201, the run is finished: check `status`; a refused file is `failed`, with `error` "
    "and the refused lines in `report.errors`); a large one is queued for the background "
    "worker (202: poll the run's `url` until `status` is `succeeded` or `failed`). A file "
    "that cannot be predictions (empty, binary, too large) is a 400 under `file`, and no "
    "run is made. `Location` is the run's URL. Project admins only.",
    parameters=[SLUG],
    request={"multipart/form-data": PredictionsUploadSerializer},
    responses={
        201: OpenApiResponse(PredictionRunSerializer, description="Imported (or refused)."),
        202: OpenApiResponse(PredictionRunSerializer, description="Queued for the worker."),
        **errors(400, 401, 403, 404, 415, 503, 507),
    },
)
class PredictionImport(RunMixin, generics.GenericAPIView):
    project_action = Action.MANAGE
    serializer_class = PredictionRunSerializer
    parser_classes = [MultiPartParser]

    def post(self, request: Request, slug: str) -> Response:
        upload = PredictionsUploadSerializer(data=request.data)
        if upload_ran_out_of_space(request):  # while Django spooled it (upload_handlers.py)
            raise InsufficientStorage(NO_SPACE_MESSAGE)
        upload.is_valid(raise_exception=True)
        form = PredictionsUploadForm(files={"file": upload.validated_data["file"]})
        if not form.is_valid():
            raise exceptions.ValidationError(form.errors)
        try:
            run = create_import_run(self.project, request.user, form.cleaned_data["file"])
        except StoreFailed as error:
            raise store_refusal(error) from error
        start_import_run(run)
        run = self.get_queryset().get(pk=run.pk)
        data = self.get_serializer(run).data
        code = status.HTTP_201_CREATED if run.is_finished else status.HTTP_202_ACCEPTED
        return Response(data, status=code, headers={"Location": data["url"]})


@extend_schema_view(
    get=extend_schema(
        summary="One run of a model",
        tags=["models"],
        description="Status (`queued`, `running`, `succeeded`, `failed`), progress, counts, "
        "and the report: an import's counts per model, or its refused lines. Reviewers, "
        "researchers and admins.",
        parameters=[SLUG, RUN_ID],
        responses={200: PredictionRunSerializer, **errors(401, 403, 404)},
    )
)
class PredictionRunDetail(RunMixin, generics.RetrieveAPIView):
    project_action = Action.RESULTS
    serializer_class = PredictionRunSerializer
    lookup_url_kwarg = "run_id"

    def get_object(self) -> PredictionRun:
        # A script polling a run whose worker died sees it fail, as the browser does.
        PredictionRun.objects.filter(pk=self.kwargs["run_id"]).fail_stale(project=self.project)
        return super().get_object()


@extend_schema_view(
    get=extend_schema(
        summary="The project's models",
        tags=["models"],
        description="Every version of every model of the project (imported predictions, the "
        "built-in learner, LLM endpoints) in the order they were made, with its settings, "
        "its quality as measured when it was made, and its counts of predictions and "
        "failures. Reviewers, researchers and admins.",
        parameters=[SLUG],
        responses={200: ModelSerializer, **errors(400, 401, 403, 404)},
    )
)
class ModelList(ProjectScopedMixin, generics.ListAPIView):
    project_action = Action.RESULTS
    serializer_class = ModelSerializer
    pagination_class = ApiCursorPagination
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[MachineLabeller]:
        if is_schema_generation(self):
            return MachineLabeller.objects.none()
        return MachineLabeller.objects.filter(project=self.project).annotate(
            newest=is_newest_version(),
            prediction_count=Count("predictions", distinct=True),
            failure_count=Count("failures", distinct=True),
        )
