"""Projects, the people in them, and the corpus: articles with their comment reply trees.

Reply trees use a *materialised path*: each comment stores the sibling positions on the way
from the article down to it, as fixed-width decimal segments (``"000001000003"`` is the third
reply to the first top-level comment). We chose it over adjacency-list recursion or a
recursive CTE because the two reads the tool does all day are then single, index-backed
queries on both SQLite and PostgreSQL:

* a whole thread in tree order is ``WHERE article_id = ? ORDER BY path``;
* a comment's ancestors are ``WHERE article_id = ? AND path IN (prefixes of its path)``.

Writes pay instead: re-parenting a comment rewrites the paths of its subtree (one UPDATE per
moved comment, done in Python inside one transaction), which is rare and admin-only.
Digits-only segments sort the same under any collation, so PostgreSQL needs no ``"C"``
collation; a segment of six digits allows 999,999 replies to one comment, and the B-tree
entry limit allows threads over 300 levels deep.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.heartbeats import StoppableJob
from annotator.corpus.importers import FORMAT_SPECS
from annotator.corpus.moves import parent_changed

PATH_SEGMENT_WIDTH = 6
MAX_SIBLINGS = 10**PATH_SEGMENT_WIDTH - 1


def path_segment(position: int) -> str:
    """The path segment of the comment at ``position`` (1-based) among its siblings."""
    if not 1 <= position <= MAX_SIBLINGS:
        raise ValueError(f"sibling position {position} out of range 1..{MAX_SIBLINGS}")
    return f"{position:0{PATH_SEGMENT_WIDTH}d}"


def ancestor_paths(path: str) -> list[str]:
    """Paths of every ancestor of the comment at ``path``, root first (itself excluded)."""
    width = PATH_SEGMENT_WIDTH
    return [path[:end] for end in range(width, len(path), width)]


class Role(models.TextChoices):
    """What a member may do in one project (see ``permissions.py`` for the matrix)."""

    ADMIN = "admin", "Admin"
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    RESEARCHER = "researcher", "Researcher"


class WorkOrder(models.TextChoices):
    """The order in which a project hands comments out (see ``labelling/assignment.py``)."""

    THREAD = "thread", "Thread by thread, in tree order"
    SHUFFLED = "shuffled", "Threads in a shuffled order"
    # Threads whose comments a model is least sure of first (assist/uncertainty.py keeps
    # ``Article.lowest_confidence``); threads it has no confidence for come last.
    UNCERTAIN = "uncertain", "Most uncertain first (by a model's confidence)"


# The shuffled order ranks an article's thread by a pure arithmetic function of its project
# and id, so that the rank can be an expression index (``article_thread_rank``) and the queue
# walks the threads in shuffled order down an index. Every constant is below 2**31 and every
# product below 2**62: SQLite, PostgreSQL and Python compute it exactly alike in 64 bits.
# (Until migration corpus 0007 the rank's parameters came from a hash of the project's pk,
# which SQL cannot index; shuffled projects then got a new order. Labels are untouched.)
SHUFFLE_PRIME = 2_147_483_647
_SHUFFLE_SEED = 48_271  # the project's offset: (project % p) * 48271 % p
_SHUFFLE_MIX = 1_103_515_245  # the multiplier before squaring
_SHUFFLE_SHIFT = 12_345  # added after squaring
_SHUFFLE_SCALE = 69_621  # the project's final multiplier: (project % p) * 69621 % (p - 1) + 1


def thread_rank_of(project_id: int, article_id: int) -> int:
    """Where an article's thread comes in its project's shuffled order (lower is earlier).

    ``((a + s) * mix)`` squared, plus a shift, times the project's scale, each step modulo
    the prime ``p``; ``s`` and the scale come from the project. The square makes consecutive
    ids land far apart (an affine map alone keeps them in a lattice). Two articles may share
    a rank; the article id breaks the tie.
    """
    p = SHUFFLE_PRIME
    offset = project_id % p * _SHUFFLE_SEED % p
    scale = project_id % p * _SHUFFLE_SCALE % (p - 1) + 1
    mixed = (article_id % p + offset) % p * _SHUFFLE_MIX % p
    return (mixed * mixed % p + _SHUFFLE_SHIFT) % p * scale % p


def thread_rank_expression(project=None, article=None) -> models.ExpressionWrapper:
    """``thread_rank_of`` as an ORM expression (the index's: of an article's ``project_id``
    and ``id`` unless other expressions are given)."""
    p = models.Value(SHUFFLE_PRIME)
    project_f = models.F("project_id") if project is None else project
    article_f = models.F("id") if article is None else article
    offset = project_f % p * models.Value(_SHUFFLE_SEED) % p
    scale = project_f % p * models.Value(_SHUFFLE_SCALE) % models.Value(SHUFFLE_PRIME - 1)
    scale = scale + models.Value(1)
    mixed = (article_f % p + offset) % p * models.Value(_SHUFFLE_MIX) % p
    rank = (mixed * mixed % p + models.Value(_SHUFFLE_SHIFT)) % p * scale % p
    return models.ExpressionWrapper(rank, output_field=models.BigIntegerField())


def thread_rank_sql(project: str, article: str) -> str:
    """``thread_rank_of`` as SQL text over two column references, with the constants
    written in, so that the database matches it with the expression index."""
    p = SHUFFLE_PRIME
    offset = f"(({project} % {p}) * {_SHUFFLE_SEED} % {p})"
    scale = f"((({project} % {p}) * {_SHUFFLE_SCALE} % {p - 1}) + 1)"
    mixed = f"(((({article} % {p}) + {offset}) % {p}) * {_SHUFFLE_MIX} % {p})"
    return f"((((({mixed} * {mixed}) % {p}) + {_SHUFFLE_SHIFT}) % {p}) * {scale} % {p})"


# Where a thread the ordering model has no confidence for comes in "most uncertain first":
# after every thread it has one for (confidences are from 0 to 1).
NO_CONFIDENCE_RANK = 2.0


def uncertainty_rank_expression(article: str = "") -> models.functions.Coalesce:
    """A thread's rank in "most uncertain first" (lower is earlier): its lowest confidence,
    or ``NO_CONFIDENCE_RANK``; the expression of the index ``article_uncertainty``."""
    field = f"{article}__lowest_confidence" if article else "lowest_confidence"
    return models.functions.Coalesce(
        models.F(field), models.Value(NO_CONFIDENCE_RANK, output_field=models.FloatField())
    )


def uncertainty_rank_sql(article: str) -> str:
    """The same rank as SQL text over an article's table alias (the index's expression)."""
    return f"COALESCE({article}.lowest_confidence, {NO_CONFIDENCE_RANK})"


def uncertainty_rank_of(article: Article) -> float:
    """The same rank of a loaded article, in Python."""
    low = article.lowest_confidence
    return NO_CONFIDENCE_RANK if low is None else low


class Project(models.Model):
    """One labelling effort: its own articles, people and (later) label scheme.

    The last three fields say how labelling work is shared out among the annotators.
    """

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    annotators_per_comment = models.PositiveSmallIntegerField(
        "annotators per comment",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="How many people label each comment before it leaves everyone's queue.",
    )
    work_order = models.CharField(
        "order of work",
        max_length=10,
        choices=WorkOrder.choices,
        default=WorkOrder.THREAD,
        help_text=(
            "Thread by thread reads each thread's context once; shuffled threads spread "
            "annotators over the corpus; most uncertain first takes the threads a model is "
            "least sure of first (choose the model on the Models page). Comments inside a "
            "thread stay in tree order."
        ),
    )
    claim_minutes = models.PositiveSmallIntegerField(
        "hold comments for (minutes)",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=(
            "Once an annotator saves an answer, the comment is kept for them this long after "
            "their last save, so two people do not both label the last one it needs (only "
            "looking at it holds it for two minutes)."
        ),
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(annotators_per_comment__gte=1),
                name="at_least_one_annotator_per_comment",
            ),
            models.CheckConstraint(
                condition=models.Q(claim_minutes__gte=1), name="claims_last_a_minute_or_more"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("corpus:project_detail", args=[self.slug])


class Membership(models.Model):
    """A person's role in a project. Roles are per project, never global."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_role_per_project")
        ]
        ordering = ["project", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.project}"


class Article(models.Model):
    """A news article whose reader comments form reply trees."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="articles")
    source_id = models.CharField(max_length=255, help_text="The source's own id.")
    title = models.TextField()
    body = models.TextField(blank=True)
    url = models.URLField(max_length=2000, blank=True)
    source = models.CharField(max_length=255, blank=True, help_text="Outlet.")
    published_at = models.DateTimeField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The lowest confidence the project's ordering model has in any answer about this
    # thread's comments, for the "most uncertain first" order (assist/uncertainty.py).
    lowest_confidence = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source_id"], name="article_source_id_unique_in_project"
            )
        ]
        indexes = [
            # The queue walks a shuffled project's threads down this index (labelling/
            # assignment_search.py), so finding the next thread does not rank all of them.
            models.Index(
                models.F("project"),
                thread_rank_expression(),
                models.F("id"),
                name="article_thread_rank",
            ),
            # The "most uncertain first" order walks the threads down this index.
            models.Index(
                models.F("project"),
                uncertainty_rank_expression(),
                models.F("id"),
                name="article_uncertainty",
            ),
        ]
        ordering = ["project", "published_at", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def link_url(self) -> str:
        """The article's address if it may be a link: http(s) only. Imported URLs are the
        source's text (a ``javascript:`` or ``data:`` one included), kept as they came for
        exports but never put in an ``href``."""
        scheme, _, rest = self.url.strip().partition(":")
        return self.url if scheme.lower() in {"http", "https"} and rest.startswith("//") else ""

    def body_paragraphs(self) -> list[str]:
        """The body split on blank lines, for display."""
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]


class CommentQuerySet(models.QuerySet):
    """Reads of reply trees that cost one query whatever the thread's size."""

    def in_tree_order(self) -> CommentQuerySet:
        """Depth-first order: each comment followed by its replies, siblings by position."""
        return self.order_by("article_id", "path")

    def thread(self, article: Article | int) -> CommentQuerySet:
        """Every comment of one article, in tree order (one query)."""
        return self.filter(article=article).order_by("path")

    def ancestors_of(self, comment: Comment) -> CommentQuerySet:
        """The chain from the top-level comment down to ``comment``'s parent (one query)."""
        return self.filter(
            article_id=comment.article_id, path__in=ancestor_paths(comment.path)
        ).order_by("path")

    def subtree_of(self, comment: Comment) -> CommentQuerySet:
        """``comment`` and every reply below it, in tree order (one query)."""
        return self.filter(article_id=comment.article_id, path__startswith=comment.path).order_by(
            "path"
        )


class Comment(models.Model):
    """A reader comment: an answer to the article (no parent) or to another comment."""

    # No index of its own: the unique (article, path) and (article, source_id) indexes start
    # with it and answer every lookup by article; a sixth index would only slow each imported
    # row down (migration corpus 0008).
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="comments", db_index=False
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    source_id = models.CharField(max_length=255, help_text="The source's own id.")
    author = models.CharField(max_length=255, blank=True)
    text = models.TextField()
    posted_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(help_text="Order among siblings, from 1.")
    depth = models.PositiveSmallIntegerField(help_text="0 for a reply to the article.")
    path = models.CharField(max_length=2400, help_text="Materialised path; see module doc.")
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = CommentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "source_id"], name="comment_source_id_unique_in_article"
            ),
            models.UniqueConstraint(fields=["article", "path"], name="comment_path_unique"),
        ]
        ordering = ["article", "path"]

    def __str__(self) -> str:
        return f"{self.author or 'anonymous'}: {self.text[:60]}"

    def ancestors(self) -> CommentQuerySet:
        """The chain of comments this one answers, top-level first (one query)."""
        return Comment.objects.ancestors_of(self)

    @transaction.atomic
    def move_under(self, new_parent: Comment | None, *, actor=None) -> None:
        """Re-parent this comment (and its replies) as the last reply of ``new_parent``.

        Refuses to move a comment under itself or one of its own replies, which would cut
        the subtree off the article. When the parent really changes, ``moves.parent_changed``
        is sent in the same transaction, so the labels that depended on the old parent are
        set aside with the move (``actor``, the person moving it, is kept in their history).
        """
        if new_parent is not None:
            if new_parent.article_id != self.article_id:
                raise ValueError("A comment can only answer a comment of the same article.")
            if new_parent.path.startswith(self.path):
                raise ValueError("A comment cannot answer itself or one of its own replies.")
        siblings = Comment.objects.filter(article_id=self.article_id, parent=new_parent)
        last = siblings.exclude(pk=self.pk).aggregate(models.Max("position"))["position__max"]
        position = (last or 0) + 1
        new_path = (new_parent.path if new_parent else "") + path_segment(position)
        new_depth = new_parent.depth + 1 if new_parent else 0
        old_path, old_depth = self.path, self.depth
        old_parent_id = self.parent_id
        subtree = list(Comment.objects.subtree_of(self).only("pk", "path", "depth"))
        for node in subtree:
            node.path = new_path + node.path[len(old_path) :]
            node.depth = new_depth + node.depth - old_depth
        # Move the subtree out of the way first so the unique (article, path) never clashes.
        Comment.objects.filter(pk__in=[n.pk for n in subtree]).update(
            path=models.functions.Concat(models.Value("~"), "path")
        )
        Comment.objects.bulk_update(subtree, ["path", "depth"], batch_size=500)
        self.parent = new_parent
        self.position = position
        self.path = new_path
        self.depth = new_depth
        self.save(update_fields=["parent", "position"])
        if old_parent_id != (new_parent.pk if new_parent else None):
            parent_changed.send(
                sender=Comment,
                comment=self,
                old_parent_id=old_parent_id,
                new_parent=new_parent,
                actor=actor,
            )


class ImportJobQuerySet(models.QuerySet):
    """Import jobs, with the reaper of those whose worker died (see ``heartbeats.py``)."""

    def fail_stale(self, project: Project | None = None, *, orphans: bool = False) -> list[int]:
        """Fail the running imports (of ``project``) whose heartbeat stopped, and with
        ``orphans`` the queued ones whose task's worker died (``heartbeats.fail_stale``)."""
        from annotator.corpus.heartbeats import fail_stale

        jobs = self if project is None else self.filter(project=project)
        return fail_stale(jobs, ImportJob.WORKER_STOPPED, orphans=orphans)


class ImportJob(StoppableJob, models.Model):
    """One import of one file into a project: what the browser polls for progress.

    Rows stay after the import as the project's import log (who, what, counts, errors).
    """

    # The error of a job whose worker died: imports are one transaction, so it is true.
    WORKER_STOPPED = "The worker stopped: nothing was imported. Run it again."
    # Its task in django-tasks-db, whose row the reaper fails with the job (heartbeats.py).
    TASK = "annotator.corpus.tasks.import_job_task"
    # The task sets the job running as its first write: a job still queued long after a
    # worker claimed its task lost that worker (heartbeats.fail_stale's orphans).
    TAKEN_AT_TASK_START = True

    class Status(models.TextChoices):
        READING = "reading", "Reading the thread"
        PREVIEW = "preview", "Awaiting review"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Refused"

    # Every format of importers.FORMAT_SPECS, named as there; AUTO detects it from the file.
    Format = models.TextChoices(
        "Format",
        [("AUTO", ("auto", "Detect from the file"))]
        + [(spec.name.upper(), (spec.name, spec.label)) for spec in FORMAT_SPECS.values()],
    )

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written by the running import as it makes progress; see heartbeats.py.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    format = models.CharField(max_length=20, choices=Format.choices, default=Format.AUTO)
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=500)
    original_name = models.CharField(max_length=255)
    total_bytes = models.BigIntegerField(default=0)
    processed_bytes = models.BigIntegerField(default=0)
    articles_added = models.PositiveIntegerField(default=0)
    comments_added = models.PositiveIntegerField(default=0)
    comments_unchanged = models.PositiveIntegerField(default=0)
    # What the file lacked or held that was not imported, a sentence each with its count
    # ("3 comments answer a comment that is neither in the file ..."): ImportResult.notices.
    notices = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # Corrections an admin made in the preview of a scraped-text thread (article boundary,
    # parents), applied when the import runs (see importers/text.py), and the file's
    # encoding when it is not UTF-8 ("encoding", see importers/encoding.py).
    options = models.JSONField(default=dict, blank=True)
    # The importer's reading of a scraped-text thread, made once (in the background for a
    # large file) and shown by the preview a page at a time: the title and article here,
    # each comment a ``PreviewComment`` row. See annotator/corpus/previews.py.
    reading = models.JSONField(default=dict, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import of {self.original_name} into {self.project}"

    @property
    def percent(self) -> int:
        """Share of the file read so far, 0-100."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.total_bytes:
            return 0
        return min(100, int(100 * self.processed_bytes / self.total_bytes))

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}


class PreviewComment(models.Model):
    """One comment of a scraped-text thread as the importer read it, for the preview.

    Rows belong to the import waiting for review and go with it; ``position`` is the
    comment's place in the file, ``line`` its first line (how the preview and the admin's
    corrections name it), ``depth`` its depth under the importer's parents.
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="preview_comments")
    position = models.PositiveIntegerField()
    line = models.PositiveIntegerField()
    end_line = models.PositiveIntegerField()
    author = models.CharField(max_length=255, blank=True)
    text = models.TextField()
    parent_line = models.PositiveIntegerField(null=True, blank=True)
    depth = models.PositiveIntegerField(default=0)
    confidence = models.CharField(max_length=10)
    reason = models.TextField(blank=True)
    # The ranked parents offered: [[parent line or None, score, reason], ...], best first.
    candidates = models.JSONField(default=list)

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="preview_comment_position"),
            models.UniqueConstraint(fields=["job", "line"], name="preview_comment_line"),
        ]

    def __str__(self) -> str:
        return f"line {self.line} of {self.job}"


class DiscardedImport(models.Model):
    """An upload an admin discarded while it waited for review: who, when, which file.

    The job itself and its stored file are gone (nothing had been imported); this row keeps
    the import log honest about what was uploaded and thrown away, and by whom.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="discarded_imports")
    original_name = models.CharField(max_length=255)
    format = models.CharField(max_length=20, choices=ImportJob.Format.choices)
    total_bytes = models.BigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    uploaded_at = models.DateTimeField()
    discarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The name as it was, so the log still says who once the account is gone.
    discarded_by_name = models.CharField(max_length=150, blank=True)
    discarded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-discarded_at", "-pk"]

    def __str__(self) -> str:
        return f"discarded import of {self.original_name} from {self.project}"


class DeletedArticle(models.Model):
    """What an admin deleted with an article: its title and source id, the counts, who, when.

    Deleting an article takes its comments, every annotation and gold label with it; the
    row is the history of that decision (shown on the import log and in the Django admin),
    and its source id explains why a later import of the same thread adds it afresh.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deleted_articles")
    title = models.TextField()
    source_id = models.CharField(max_length=255)
    comments = models.PositiveIntegerField(default=0)
    annotations = models.PositiveIntegerField(default=0)
    annotators = models.PositiveIntegerField(default=0)
    gold_labels = models.PositiveIntegerField(default=0)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    deleted_by_name = models.CharField(max_length=150, blank=True)
    deleted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-deleted_at", "-pk"]

    def __str__(self) -> str:
        return f"deleted article {self.source_id} from {self.project}"
