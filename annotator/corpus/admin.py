"""The Django admin for staff: projects and members, articles, comments, the import log and
the history of discarded uploads and deleted articles.

Comments live in materialised-path trees (see models.py), so the admin never lets anyone
type a path: a changed parent goes through ``Comment.move_under``, which rewrites the whole
moved subtree, and a new comment is appended as the last reply of its parent. A new parent
that would set labels aside (answers about the old parent, see ``moves.py``) is refused
until the admin ticks the confirmation the error names, with the count of what goes stale.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models, transaction
from django.db.models import Count
from django.http import HttpRequest

from annotator.corpus.models import (
    Article,
    Comment,
    DeletedArticle,
    DiscardedImport,
    ImportJob,
    Membership,
    Project,
    path_segment,
)
from annotator.corpus.moves import impact_of_move


class MembershipInline(admin.TabularInline):
    """People in a project and their roles, edited on the project's page."""

    model = Membership
    extra = 1
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Projects with their members inline."""

    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Articles, searchable by title and source id, filtered by project."""

    list_display = ["title", "project", "source", "published_at", "comment_count"]
    list_filter = ["project"]
    search_fields = ["title", "source_id"]
    list_select_related = ["project"]
    date_hierarchy = "published_at"

    def get_queryset(self, request: HttpRequest):
        """Count comments in the same query as the list."""
        return super().get_queryset(request).annotate(comment_count=Count("comments"))

    @admin.display(description="Comments", ordering="comment_count")
    def comment_count(self, article: Article) -> int:
        """How many comments the article has."""
        return article.comment_count


class CommentAdminForm(forms.ModelForm):
    """Refuses a parent from another article or from the comment's own replies, and a new
    parent that sets labels aside until ``confirm_stale_labels`` is ticked."""

    confirm_stale_labels = forms.BooleanField(
        required=False,
        label="Set labels aside",
        help_text=(
            "A new parent makes the answers about the old one stale; the annotators are "
            "asked again. Tick to confirm when the form says how many."
        ),
    )

    class Meta:
        model = Comment
        fields = ["article", "parent", "source_id", "author", "text", "posted_at", "meta"]

    def clean(self) -> dict:
        """Check the new parent before ``move_under`` would refuse it mid-save."""
        cleaned = super().clean()
        parent = cleaned.get("parent")
        article = cleaned.get("article") or getattr(self.instance, "article", None)
        if parent is None or article is None:
            return cleaned
        if parent.article_id != article.pk:
            self.add_error("parent", "The parent must be a comment of the same article.")
        elif self.instance.pk and parent.path.startswith(self.instance.path):
            self.add_error("parent", "A comment cannot answer itself or one of its own replies.")
        return cleaned

    def _post_clean(self) -> None:
        """Before the instance takes the new parent: ask for confirmation if labels go."""
        self._check_stale_labels()
        super()._post_clean()

    def _check_stale_labels(self) -> None:
        if not self.instance.pk or self.errors or "parent" not in self.cleaned_data:
            return
        parent = self.cleaned_data["parent"]
        if (parent.pk if parent else None) == self.instance.parent_id:
            return
        if self.cleaned_data.get("confirm_stale_labels"):
            return
        impact = impact_of_move(self.instance, parent)
        if not impact.is_empty:
            target = f"#{parent.pk}" if parent else "the article"
            self.add_error(
                "confirm_stale_labels",
                f"{impact.describe(f'#{self.instance.pk}', target)} "
                "Tick “Set labels aside” and save again to move it.",
            )


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    """Comments: search, filter by project, edit text, and re-parent safely."""

    form = CommentAdminForm
    list_display = ["short_text", "author", "article", "depth", "posted_at"]
    list_filter = [("article__project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["text", "author", "source_id"]
    raw_id_fields = ["parent", "article"]
    list_select_related = ["article"]
    readonly_fields = ["position", "depth", "path", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Comment | None = None):
        """A comment cannot change article: its paths belong to that article's tree."""
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "article"] if obj is not None else fields

    @admin.display(description="Text")
    def short_text(self, comment: Comment) -> str:
        """The start of the comment (escaped by the admin like any value)."""
        return comment.text[:80]

    def save_model(self, request: HttpRequest, obj: Comment, form, change: bool) -> None:
        """Save edits; route a new parent through ``move_under`` to keep the tree consistent."""
        with transaction.atomic():
            if not change:
                self._append(obj)
                super().save_model(request, obj, form, change)
                return
            new_parent = obj.parent
            if "parent" in form.changed_data:
                # Save the other edits with the old parent, then move the whole subtree.
                obj.parent_id = form.initial.get("parent")
            super().save_model(request, obj, form, change)
            if "parent" in form.changed_data:
                obj.move_under(new_parent, actor=request.user)

    @staticmethod
    def _append(comment: Comment) -> None:
        """Place a new comment as the last reply of its parent (or of the article)."""
        siblings = Comment.objects.filter(article_id=comment.article_id, parent=comment.parent)
        last = siblings.aggregate(models.Max("position"))["position__max"] or 0
        parent = comment.parent
        comment.position = last + 1
        comment.depth = parent.depth + 1 if parent else 0
        comment.path = (parent.path if parent else "") + path_segment(comment.position)


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """The import log, read-only: jobs are written by the importer, never by hand."""

    list_display = [
        "original_name",
        "project",
        "status",
        "format",
        "comments_added",
        "created_by",
        "created_at",
    ]
    list_filter = ["project", "status", "format"]
    search_fields = ["original_name", "error"]
    list_select_related = ["project", "created_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Imports start from the project's import page or the command line."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        """Job rows are a log."""
        return False


class HistoryAdmin(admin.ModelAdmin):
    """A read-only history: rows are written when an admin discards or deletes, never by hand.

    Deleting a row is allowed (a superuser tidying up), changing one is not.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


@admin.register(DiscardedImport)
class DiscardedImportAdmin(HistoryAdmin):
    """Uploads discarded while they waited for review: which file, who uploaded, who discarded."""

    list_display = [
        "original_name",
        "project",
        "format",
        "uploaded_by",
        "discarded_by_name",
        "discarded_at",
    ]
    list_filter = ["project"]
    search_fields = ["original_name", "discarded_by_name"]
    list_select_related = ["project", "uploaded_by"]


@admin.register(DeletedArticle)
class DeletedArticleAdmin(HistoryAdmin):
    """Articles deleted with their labels: title, source id, what went with them, who, when."""

    list_display = [
        "title",
        "project",
        "source_id",
        "comments",
        "annotations",
        "annotators",
        "gold_labels",
        "deleted_by_name",
        "deleted_at",
    ]
    list_filter = ["project"]
    search_fields = ["title", "source_id", "deleted_by_name"]
    list_select_related = ["project"]
