"""The REST API: projects, articles, reply threads, comments, annotations, imports, exports.

Read-only except for starting an import or an export, through the same domain code as the
browser's pages. Every view under ``projects/<slug>/`` gets its project from
``permissions.ProjectScopedMixin``, i.e. from ``annotator.corpus.permissions``: a
non-member gets 404, a role that is too weak 403 with a ``detail`` saying so. Lists are
cursor-paginated and cost a constant number of queries whatever they hold (asserted in
tests/api/test_views.py).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions, generics, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.filters import AnnotationFilter, ArticleFilter, CommentFilter, GoldLabelFilter
from annotator.api.pagination import ApiCursorPagination, ThreadPagination
from annotator.api.permissions import ProjectScopedMixin, project_from, reads_all_annotations
from annotator.api.serializers import (
    AgreementSerializer,
    AnnotationSerializer,
    ArticleDetailSerializer,
    ArticleSerializer,
    CommentSerializer,
    ErrorSerializer,
    ExportJobSerializer,
    ExportOptionsSerializer,
    GoldLabelSerializer,
    ImportJobSerializer,
    ImportUploadSerializer,
    ProjectDetailSerializer,
    ProjectSerializer,
)
from annotator.corpus.import_forms import ImportUploadForm

# The upload's steps live in the browser's import views; the API calls them rather than
# copying them, so an upload is stored, detected and started the same way from both.
from annotator.corpus.import_views import _create_job, start_upload
from annotator.corpus.models import Article, Comment, ImportJob, Membership, Project
from annotator.corpus.permissions import Action, role_of, visible_projects
from annotator.corpus.stored_files import open_stored
from annotator.corpus.upload_handlers import upload_ran_out_of_space
from annotator.corpus.uploads import NO_SPACE_MESSAGE, NoSpaceLeft, StoreFailed, is_store_failure
from annotator.datasets.figures import agreement_figures, agreement_records
from annotator.datasets.jobs import InvalidExportOptions, default_filename, start_export
from annotator.datasets.models import ExportJob
from annotator.labelling.models import Annotation
from annotator.review.models import GoldLabel

ERROR_DESCRIPTIONS = {
    400: "A parameter or field is invalid: the body names each one and what is wrong.",
    401: "No valid token or session: send `Authorization: Token <key>`.",
    403: "Your role in this project does not allow this.",
    404: "No such project (or you are not a member of it), no such row in it, or a cursor "
    "that is not one this API gave out.",
    409: "The export is not ready for download (still running, failed, or kept no file).",
    415: "Wrong content type for the body.",
    503: "The file store (the object store of uploads and exports) could not be reached: "
    "nothing was kept. Try again in a moment.",
    507: "The server has no space left: nothing was kept. Free some space or ask an administrator.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation can give, for ``extend_schema(responses=...)``."""
    return {
        code: OpenApiResponse(
            response=OpenApiTypes.OBJECT if code == 400 else ErrorSerializer,
            description=ERROR_DESCRIPTIONS[code],
        )
        for code in codes
    }


LIST_ERRORS = errors(400, 401, 404)  # 400: a bad filter or page size; 404: a bad cursor
# Path parameters with the shapes the URL patterns accept (slug and int converters).
SLUG = OpenApiParameter(
    "slug",
    {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    OpenApiParameter.PATH,
    description="The project's slug.",
)
ARTICLE_ID = OpenApiParameter(
    "article_id",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.PATH,
    description="Article id.",
)
JOB_ID = OpenApiParameter(
    "job_id", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH, description="Job id."
)


def is_schema_generation(view) -> bool:
    """drf-spectacular builds views without a request user or URL; they must not query."""
    return getattr(view, "swagger_fake_view", False)


# --- Projects ---------------------------------------------------------------------------------


class ProjectPagination(ApiCursorPagination):
    ordering = "slug"


def with_member_role(projects: QuerySet[Project], user) -> QuerySet[Project]:
    """``projects`` with ``member_role``: the user's role in each, in the same query."""
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return projects.annotate(member_role=Subquery(role))


@extend_schema_view(
    get=extend_schema(
        summary="Your projects",
        tags=["projects"],
        description="The projects you are a member of (every project for a superuser), by slug, "
        "with your role in each.",
        responses={200: ProjectSerializer, **errors(400, 401, 404)},
    )
)
class ProjectList(generics.ListAPIView):
    serializer_class = ProjectSerializer
    pagination_class = ProjectPagination
    filter_backends: list = []
    queryset = Project.objects.none()

    def get_queryset(self) -> QuerySet[Project]:
        if is_schema_generation(self):
            return Project.objects.none()
        user = self.request.user
        return with_member_role(visible_projects(user), user).only(
            "slug", "name", "description", "created_at"
        )


@extend_schema_view(
    get=extend_schema(
        summary="One project",
        tags=["projects"],
        description="The project with your role and what it allows you to do here.",
        parameters=[SLUG],
        responses={200: ProjectDetailSerializer, **errors(401, 404)},
    )
)
class ProjectDetail(generics.RetrieveAPIView):
    serializer_class = ProjectDetailSerializer
    queryset = Project.objects.none()

    def get_object(self) -> Project:
        project = project_from(self.request.user, self.kwargs["slug"], Action.VIEW)
        project.member_role = role_of(self.request.user, project)
        return project


# --- Articles, threads and comments -----------------------------------------------------------

ARTICLE_LIST_FIELDS = ("id", "source_id", "title", "url", "source", "published_at", "created_at")
COMMENT_FIELDS = (
    "id",
    "article_id",
    "parent_id",
    "source_id",
    "author",
    "text",
    "posted_at",
    "depth",
    "position",
    "path",
    "meta",
)


@extend_schema_view(
    get=extend_schema(
        summary="Articles of a project",
        tags=["articles"],
        description="In the order they were imported, with how many comments each has.",
        parameters=[SLUG],
        responses={200: ArticleSerializer, **LIST_ERRORS},
    )
)
class ArticleList(ProjectScopedMixin, generics.ListAPIView):
    serializer_class = ArticleSerializer
    filterset_class = ArticleFilter
    queryset = Article.objects.none()

    def get_queryset(self) -> QuerySet[Article]:
        if is_schema_generation(self):
            return Article.objects.none()
        return (
            Article.objects.filter(project=self.project)
            .only(*ARTICLE_LIST_FIELDS)
            .annotate(comment_count=Count("comments"))
        )


@extend_schema_view(
    get=extend_schema(
        summary="One article",
        tags=["articles"],
        description="The article with its body and source metadata.",
        parameters=[SLUG, ARTICLE_ID],
        responses={200: ArticleDetailSerializer, **errors(401, 404)},
    )
)
class ArticleDetail(ProjectScopedMixin, generics.RetrieveAPIView):
    serializer_class = ArticleDetailSerializer
    lookup_url_kwarg = "article_id"
    queryset = Article.objects.none()

    def get_queryset(self) -> QuerySet[Article]:
        if is_schema_generation(self):
            return Article.objects.none()
        return Article.objects.filter(project=self.project).annotate(
            comment_count=Count("comments")
        )


@extend_schema_view(
    get=extend_schema(
        summary="An article's reply tree",
        tags=["articles"],
        description="Every comment of the article in tree order (depth first: each comment "
        "is followed by its replies, siblings by position), with its parent id, depth and "
        "position; rebuild the tree from `parent` or indent by `depth`. Pages are cut by the "
        "comments' materialised `path`, so each page is one indexed query and the `next` "
        "link continues exactly after the last comment of the page.",
        parameters=[SLUG, ARTICLE_ID],
        responses={200: CommentSerializer, **LIST_ERRORS},
    )
)
class ArticleThread(ProjectScopedMixin, generics.ListAPIView):
    serializer_class = CommentSerializer
    pagination_class = ThreadPagination
    filter_backends: list = []
    queryset = Comment.objects.none()

    def get_queryset(self) -> QuerySet[Comment]:
        if is_schema_generation(self):
            return Comment.objects.none()
        article = get_object_or_404(
            Article.objects.only("id"), pk=self.kwargs["article_id"], project=self.project
        )
        return Comment.objects.thread(article).only(*COMMENT_FIELDS)


@extend_schema_view(
    get=extend_schema(
        summary="Comments of a project",
        tags=["comments"],
        description="Every comment of every article, in the order they were imported; "
        "filter by article, parent, depth and posting time. For one thread in tree order use "
        "the article's `thread`.",
        parameters=[SLUG],
        responses={200: CommentSerializer, **LIST_ERRORS},
    )
)
class CommentList(ProjectScopedMixin, generics.ListAPIView):
    serializer_class = CommentSerializer
    filterset_class = CommentFilter
    queryset = Comment.objects.none()

    def get_queryset(self) -> QuerySet[Comment]:
        if is_schema_generation(self):
            return Comment.objects.none()
        return Comment.objects.filter(article__project=self.project).only(*COMMENT_FIELDS)


# --- Annotations ------------------------------------------------------------------------------

ANNOTATION_FIELDS = (
    "id",
    "comment__article_id",
    "annotator__username",
    "scheme__version",
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
)


@extend_schema_view(
    get=extend_schema(
        summary="Annotations (labels) of a project",
        tags=["annotations"],
        description="Who reads whose annotations: reviewers, researchers and admins read "
        "every annotator's; annotators read only their own (asking for someone else's "
        "`annotator` is a 403). Labels are read-only in the API. Filter by `question` and "
        "`value` to find answers, and by `updated_after` to fetch only what changed since "
        "a previous run.",
        parameters=[SLUG],
        responses={200: AnnotationSerializer, **errors(400, 401, 403, 404)},
    )
)
class AnnotationList(ProjectScopedMixin, generics.ListAPIView):
    """Annotations in id order. Reviewers, researchers and admins (``Action.REVIEW`` or
    ``Action.EXPORT``) read all; everyone else reads only their own, and asking for another
    annotator's is refused with 403 rather than answered with an empty page."""

    serializer_class = AnnotationSerializer
    filterset_class = AnnotationFilter
    queryset = Annotation.objects.none()

    def get_queryset(self) -> QuerySet[Annotation]:
        if is_schema_generation(self):
            return Annotation.objects.none()
        user = self.request.user
        annotations = (
            Annotation.objects.filter(project=self.project)
            .select_related("annotator", "scheme", "comment")
            .only(*ANNOTATION_FIELDS)
        )
        if reads_all_annotations(user, self.project):
            return annotations
        asked = self.request.query_params.get("annotator")
        if asked and asked != user.get_username():
            raise exceptions.PermissionDenied(
                f"Your role in {self.project.name} lets you read only your own annotations: "
                "leave out `annotator` or give your own username."
            )
        return annotations.filter(annotator=user)


GOLD_FIELDS = (
    "id",
    "comment__article_id",
    "scheme__version",
    "answers",
    "stale_answers",
    "needs_review",
    "method",
    "note",
    "decided_by__username",
    "decided_at",
    "revision",
)


@extend_schema_view(
    get=extend_schema(
        summary="Gold labels of a project",
        tags=["labels"],
        description="The answers reviewers settled, one per comment, kept apart from the "
        "annotators' labels: `method` is `adjudicated` (a reviewer decided after seeing "
        "every annotator's answers) or `accepted` (every annotator gave the same answers). "
        "For reviewers, researchers and admins; annotators label blind, so for them it is "
        "a 403. Filter by `decided_after` to fetch only what changed since a previous run.",
        parameters=[SLUG],
        responses={200: GoldLabelSerializer, **errors(400, 401, 403, 404)},
    )
)
class GoldLabelList(ProjectScopedMixin, generics.ListAPIView):
    """Gold labels in id order."""

    project_action = Action.EXPORT
    serializer_class = GoldLabelSerializer
    filterset_class = GoldLabelFilter
    queryset = GoldLabel.objects.none()

    def get_queryset(self) -> QuerySet[GoldLabel]:
        if is_schema_generation(self):
            return GoldLabel.objects.none()
        return (
            GoldLabel.objects.filter(project=self.project)
            .select_related("comment", "scheme", "decided_by")
            .only(*GOLD_FIELDS)
        )


@extend_schema(
    summary="Agreement between annotators",
    tags=["labels"],
    description="Every agreement figure of the project's submitted labels, as on the "
    "dashboard and in each export's `agreement.csv`: per question (a multiple-choice question "
    "per value, as yes/no) and subset, Krippendorff's alpha, Fleiss' kappa and percent "
    "agreement, and Cohen's kappa and percent agreement for each pair of annotators, each "
    "with a bootstrap 95% interval and the number of comments it rests on. For reviewers, "
    "researchers and admins.",
    parameters=[SLUG],
    responses={200: AgreementSerializer, **errors(401, 403, 404)},
)
class Agreement(ProjectScopedMixin, generics.GenericAPIView):
    project_action = Action.RESULTS
    serializer_class = AgreementSerializer
    pagination_class = None

    def get(self, request: Request, slug: str) -> Response:
        figures = agreement_figures(self.project)
        names = dict(
            get_user_model()
            .objects.filter(annotations__project=self.project)
            .distinct()
            .values_list("pk", "username")
        )
        records = list(agreement_records(figures, lambda pk: names.get(pk, str(pk))))
        return Response(AgreementSerializer({"figures": records}).data)


# --- Imports ----------------------------------------------------------------------------------


IMPORT_FIELDS = (
    "id",
    "status",
    "format",
    "original_name",
    "created_at",
    "started_at",
    "finished_at",
    "total_bytes",
    "processed_bytes",
    "articles_added",
    "comments_added",
    "comments_unchanged",
    "notices",
    "error",
)


class ImportJobMixin(ProjectScopedMixin):
    project_action = Action.IMPORT

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "slug": self.kwargs["slug"]}

    def get_queryset(self) -> QuerySet[ImportJob]:
        if is_schema_generation(self):
            return ImportJob.objects.none()
        return (
            ImportJob.objects.filter(project=self.project)
            .select_related("created_by")
            .only(*IMPORT_FIELDS, "created_by__username")
        )


class InsufficientStorage(exceptions.APIException):
    """The server's disk is full (507): the client did nothing wrong and nothing was kept."""

    status_code = 507
    default_code = "insufficient_storage"


class StoreUnavailableError(exceptions.APIException):
    """The object store did not answer or refused the write (503); nothing was kept."""

    status_code = 503
    default_code = "store_unavailable"


def store_refusal(error: StoreFailed) -> exceptions.APIException:
    """The API's answer to an upload the server could not store: 507 or 503, its message."""
    if isinstance(error, NoSpaceLeft):
        return InsufficientStorage(str(error))
    return StoreUnavailableError(str(error))


class ImportPagination(ApiCursorPagination):
    ordering = "-pk"  # newest first, like the import log page


@extend_schema_view(
    get=extend_schema(
        summary="Import log of a project",
        tags=["imports"],
        description="Every import, newest first, with its status, progress and counts. "
        "Project admins only.",
        parameters=[SLUG],
        responses={200: ImportJobSerializer, **errors(400, 401, 403, 404)},
    ),
    post=extend_schema(
        summary="Import a file",
        tags=["imports"],
        description="Upload a JSON Lines, CSV or Disqus XML file, or the scraped text of a "
        "thread (multipart, field `file`). A small file is imported during the request "
        "(201, the job is finished: check `status`; a refused file is `failed` with an "
        "`error` naming the line, and nothing was written); a large one is queued for the "
        "background worker (202: poll the job's `url` until `status` is `succeeded` or "
        "`failed`). Scraped text is never imported blind: it is read (`reading`, in the "
        "background when large) and the job waits in `preview` (202) "
        "until an admin reviews the reconstructed reply tree at the job's `page` in the "
        "browser and confirms. A file that is no thread at all (a PDF, an image, an archive, "
        "binary data) is refused with a 400 saying what it is under `file`, and no job is "
        "made. `Location` is always the job's URL. Project admins only.",
        parameters=[SLUG],
        request={"multipart/form-data": ImportUploadSerializer},
        responses={
            201: OpenApiResponse(ImportJobSerializer, description="Imported (or refused)."),
            202: OpenApiResponse(
                ImportJobSerializer, description="Queued for the worker, or awaiting review."
            ),
            **errors(400, 401, 403, 404, 415, 503, 507),
        },
    ),
)
class ImportList(ImportJobMixin, generics.ListCreateAPIView):
    serializer_class = ImportJobSerializer
    pagination_class = ImportPagination
    filter_backends: list = []
    parser_classes = [MultiPartParser]

    def create(self, request: Request, *args, **kwargs) -> Response:
        # The browser's upload, step by step (import_views.import_list): the same form
        # checks, format detection, job row, and start: in the request or queued by size, or
        # for scraped text a preview that waits for an admin to review it in the browser.
        upload = ImportUploadSerializer(data=request.data)
        if upload_ran_out_of_space(request):  # while Django spooled it (upload_handlers.py)
            raise InsufficientStorage(NO_SPACE_MESSAGE)
        upload.is_valid(raise_exception=True)
        form = ImportUploadForm(
            data={
                "format": upload.validated_data["format"],
                "encoding": upload.validated_data["encoding"],
            },
            files={"file": upload.validated_data["file"]},
        )
        if not form.is_valid():
            raise exceptions.ValidationError(form.errors)
        try:
            job = _create_job(request, self.project, form)
        except StoreFailed as error:
            raise store_refusal(error) from error
        start_upload(job)
        serializer = self.get_serializer(job)
        code = status.HTTP_201_CREATED if job.is_finished else status.HTTP_202_ACCEPTED
        return Response(serializer.data, status=code, headers={"Location": serializer.data["url"]})


@extend_schema_view(
    get=extend_schema(
        summary="One import",
        tags=["imports"],
        description="Status (`queued`, `running`, `succeeded`, `failed`; `reading`, then "
        "`preview` while a "
        "scraped thread awaits review in the browser), progress in bytes and percent, "
        "counts, and the error of a refused file. Project admins only.",
        parameters=[SLUG, JOB_ID],
        responses={200: ImportJobSerializer, **errors(401, 403, 404)},
    )
)
class ImportDetail(ImportJobMixin, generics.RetrieveAPIView):
    serializer_class = ImportJobSerializer
    lookup_url_kwarg = "job_id"

    def get_object(self) -> ImportJob:
        # A script polling a job whose worker died sees it fail, as the browser does.
        ImportJob.objects.filter(pk=self.kwargs["job_id"], project=self.project).fail_stale()
        return super().get_object()


# --- Exports ----------------------------------------------------------------------------------


class ExportJobMixin(ProjectScopedMixin):
    project_action = Action.EXPORT

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "slug": self.kwargs["slug"]}

    def get_queryset(self) -> QuerySet[ExportJob]:
        if is_schema_generation(self):
            return ExportJob.objects.none()
        return (
            ExportJob.objects.filter(project=self.project)
            .select_related("created_by")
            .only(*EXPORT_FIELDS, "created_by__username")
        )


EXPORT_FIELDS = (
    "id",
    "status",
    "format",
    "options",
    "file",
    "filename",
    "created_at",
    "started_at",
    "finished_at",
    "comments_total",
    "comments_done",
    "size_bytes",
    "error",
)


class ExportPagination(ApiCursorPagination):
    ordering = "-pk"  # newest first, like the export log page


@extend_schema_view(
    get=extend_schema(
        summary="Export log of a project",
        tags=["exports"],
        description="Every export, newest first, with its options, status and download link. "
        "Reviewers, researchers and admins.",
        parameters=[SLUG],
        responses={200: ExportJobSerializer, **errors(400, 401, 403, 404)},
    ),
    post=extend_schema(
        summary="Export the labelled corpus",
        tags=["exports"],
        description="Start an export with the options of the export page (JSON body; every "
        "field has a default). Answers 202 with the job, `Location` being its URL: a small "
        "project is exported during the request (the job is already `succeeded`), a large "
        "one in the background (poll the job until `status` is `succeeded` or `failed`). "
        "Then fetch `download`: a zip with the data and a dataset card. Options the project "
        "cannot export (an unknown question, ratios that do not add up to 1) are a 400 "
        "naming each problem. Reviewers, researchers and admins.",
        parameters=[SLUG],
        request=ExportOptionsSerializer,
        responses={
            202: OpenApiResponse(ExportJobSerializer, description="Export started."),
            **errors(400, 401, 403, 404, 415),
        },
    ),
)
class ExportList(ExportJobMixin, generics.ListCreateAPIView):
    serializer_class = ExportJobSerializer
    pagination_class = ExportPagination
    filter_backends: list = []

    def create(self, request: Request, *args, **kwargs) -> Response:
        asked = ExportOptionsSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        try:
            job = start_export(self.project, request.user, asked.to_options())
        except InvalidExportOptions as refused:
            problems = [problem[0].upper() + problem[1:] + "." for problem in refused.problems]
            raise exceptions.ValidationError({"non_field_errors": problems}) from None
        serializer = self.get_serializer(job)
        return Response(
            serializer.data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": serializer.data["url"]},
        )


@extend_schema_view(
    get=extend_schema(
        summary="One export",
        tags=["exports"],
        description="Status (`queued`, `running`, `succeeded`, `failed`), progress in "
        "comments and percent, the size of the zip, its `download` link once ready, or the "
        "error. Reviewers, researchers and admins.",
        parameters=[SLUG, JOB_ID],
        responses={200: ExportJobSerializer, **errors(401, 403, 404)},
    )
)
class ExportDetail(ExportJobMixin, generics.RetrieveAPIView):
    serializer_class = ExportJobSerializer
    lookup_url_kwarg = "job_id"


class JsonErrorsNegotiation(BaseContentNegotiation):
    """The download's only rendered bodies are errors, always JSON whatever ``Accept`` says
    (the zip itself is a plain ``FileResponse``), so no client gets a 406 for asking for
    ``application/zip``."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema_view(
    get=extend_schema(
        summary="Download an export",
        tags=["exports"],
        description="The zip of a finished export (data and dataset card), streamed as an "
        "attachment. 409 while the export is still running, when it failed, or when it was "
        "written to a file by the command line and kept nothing here.",
        parameters=[SLUG, JOB_ID],
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The export's zip."
            ),
            **errors(401, 403, 404, 409, 503),
        },
    )
)
class ExportDownload(ExportJobMixin, generics.GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonErrorsNegotiation
    lookup_url_kwarg = "job_id"

    def get(self, request: Request, *args, **kwargs) -> FileResponse:
        job = self.get_object()
        if not job.is_downloadable:
            raise Conflict(download_refusal(job))
        try:
            stream = open_stored(job.file.storage, job.file.name)
        except FileNotFoundError:
            raise Conflict("The file of this export is gone; start the export again.") from None
        except Exception as error:
            if is_store_failure(error):
                raise StoreUnavailableError(
                    "The file store could not be reached: try the download again."
                ) from error
            raise
        return FileResponse(
            stream,
            as_attachment=True,
            filename=job.filename or default_filename(job),
            content_type="application/zip",
        )


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This export has no file to download."
    default_code = "conflict"


def download_refusal(job: ExportJob) -> str:
    """Why ``job`` has nothing to download, in one sentence."""
    if job.status == ExportJob.Status.FAILED:
        return f"This export failed, so there is nothing to download: {job.error}"
    if not job.is_finished:
        return (
            f"This export is still {job.get_status_display().lower()} ({job.percent}% done): "
            "poll the job until its status is 'succeeded'."
        )
    return "This export was written to a file by the command line and kept no copy here."


# --- Documentation ----------------------------------------------------------------------------


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from our own origin (drf-spectacular-sidecar) with its init script served
    as a separate URL, so the page runs under the strict Content-Security-Policy."""

    template_name = "api/docs.html"
    url_name = "api:schema"
    title = "Comment annotator API"
