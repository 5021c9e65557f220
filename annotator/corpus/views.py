"""HTML views of the corpus app: projects, members and threads. Thin functions over models.

Every view fetches its project through ``permissions.project_for`` (404 for outsiders, 403
for a role that is too weak), writes inside ``transaction.atomic`` and answers a POST with a
redirect and a message. Pages read with a constant number of queries, asserted in tests.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from annotator.accounts.forms import InviteForm
from annotator.accounts.invitations import invitations_for, invite, send_invitation
from annotator.accounts.models import Invitation
from annotator.corpus.deletions import (
    CountsChanged,
    DeletionImpact,
    delete_article,
    impact_of_deleting,
)
from annotator.corpus.forms import (
    ArticleDeleteForm,
    CommentMoveForm,
    MemberRoleForm,
    ProjectForm,
)
from annotator.corpus.models import Article, Comment, Membership, Project, Role
from annotator.corpus.moves import MoveImpact, impact_of_move
from annotator.corpus.permissions import (
    Action,
    User,
    can,
    can_create_projects,
    comment_in,
    project_for,
    visible_projects,
)


def _count_of(queryset: QuerySet, group_by: str) -> Coalesce:
    """A correlated ``COUNT(*)`` subquery, 0 when there are no rows."""
    counts = queryset.order_by().values(group_by).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


def projects_for_list(user: User) -> QuerySet[Project]:
    """The user's projects with their role, article and comment counts and how many comments
    they have labelled, in one query."""
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return (
        visible_projects(user)
        .annotate(
            member_role=Subquery(role),
            article_count=_count_of(Article.objects.filter(project=OuterRef("pk")), "project"),
            comment_count=_count_of(
                Comment.objects.filter(article__project=OuterRef("pk")), "article__project"
            ),
            my_done_count=_count_of(
                # The labelling app depends on this one, not the other way round.
                apps.get_model("labelling", "Annotation").objects.filter(
                    project=OuterRef("pk"), annotator=user, status__in=["submitted", "skipped"]
                ),
                "project",
            ),
        )
        .order_by("name")
    )


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    """The projects the person belongs to, with their role in each, and the invitations
    waiting for them."""
    projects = list(projects_for_list(request.user))
    for project in projects:
        project.role_label = Role(project.member_role).label if project.member_role else ""
    return render(
        request,
        "corpus/project_list.html",
        {
            "projects": projects,
            "invitations": invitations_for(request.user),
            "can_create": can_create_projects(request.user),
        },
    )


@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    """Staff create a project and become its admin."""
    if not can_create_projects(request.user):
        raise PermissionDenied("Only staff accounts create projects.")
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            project = form.save()
            Membership.objects.create(project=project, user=request.user, role=Role.ADMIN)
        messages.success(request, f"Created {project.name}. You are its admin.")
        return redirect(project)
    return render(request, "corpus/project_form.html", {"form": form})


@login_required
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A project's front page: its articles with comment counts, and the admin's links."""
    project = project_for(request.user, slug, Action.VIEW)
    articles = (
        project.articles.only("id", "project_id", "title", "source", "published_at")
        .annotate(comment_count=Count("comments"))
        .order_by(F("published_at").desc(nulls_last=True), "-id")
    )
    return render(
        request,
        "corpus/project_detail.html",
        {
            "project": project,
            "articles": articles,
            "can_manage": can(request.user, Action.MANAGE, project),
            "can_import": can(request.user, Action.IMPORT, project),
            "can_label": can(request.user, Action.LABEL, project),
            "can_export": can(request.user, Action.EXPORT, project),
            "can_results": can(request.user, Action.RESULTS, project),
            "can_review": can(request.user, Action.REVIEW, project),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_list(request: HttpRequest, slug: str) -> HttpResponse:
    """Project admins invite people by username or e-mail with a role, change and remove
    members, and see and withdraw pending invitations (``annotator/accounts/``).

    One screen, three small forms told apart by ``action``; each POST redirects back here,
    except a refused invitation, which shows the form again with its message (400).
    """
    project = project_for(request.user, slug, Action.MANAGE)
    add_form = InviteForm(project=project)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "add":
            add_form = InviteForm(request.POST, project=project)
            if add_form.is_valid():
                _invite(request, project, add_form)
                return redirect("corpus:member_list", slug=project.slug)
            status = 400
        elif action in {"role", "remove"}:
            return _change_member(request, project, action)
        else:
            messages.error(request, "Nothing was changed: unknown action.")
            return redirect("corpus:member_list", slug=project.slug)
    memberships = project.memberships.select_related("user").order_by("user__username")
    invitations = (
        Invitation.objects.pending()
        .filter(project=project)
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )
    return render(
        request,
        "corpus/member_list.html",
        {
            "project": project,
            "memberships": memberships,
            "invitations": invitations,
            "invitation_days": settings.INVITATION_MAX_AGE_DAYS,
            "add_form": add_form,
            "roles": Role.choices,
        },
        status=status,
    )


def _invite(request: HttpRequest, project: Project, form: InviteForm) -> None:
    """Invite whoever the admin typed and say so in the same words whether or not they have
    an account (``accounts.invitations``): the link is on the page, and e-mailed to an
    address when the site sends e-mail."""
    role = Role(form.cleaned_data["role"])
    with transaction.atomic():
        invitation = invite(project, form.cleaned_data["who"], role, request.user)
    link = request.build_absolute_uri(invitation.get_absolute_url())
    sent = send_invitation(invitation, link)
    how = (
        f"We e-mailed the link to {invitation.email}; you can also copy it below."
        if sent
        else "Copy the link below and send it to them."
    )
    messages.success(request, f"Invited {invitation.invitee} as {role.label.lower()}. {how}")


def _posted_id(value: str | None) -> int:
    """A row id sent by a form, or 0 (found nowhere) when it is not one: a word, a fraction,
    a number past the 64-bit ids of the database."""
    try:
        number = int(value or 0)
    except ValueError:
        return 0
    return number if 0 < number < 2**63 else 0


def _change_member(request: HttpRequest, project: Project, action: str) -> HttpResponse:
    """Change a member's role or remove them, never leaving the project without an admin."""
    back = redirect("corpus:member_list", slug=project.slug)
    role_form = MemberRoleForm(request.POST)
    if action == "role" and not role_form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return back
    new_role = Role(role_form.cleaned_data["role"]) if action == "role" else None
    with transaction.atomic():
        # Lock the admins' rows so two admins demoting each other cannot both succeed.
        admin_ids = list(
            Membership.objects.select_for_update()
            .filter(project=project, role=Role.ADMIN)
            .values_list("pk", flat=True)
        )
        membership = get_object_or_404(
            Membership.objects.select_related("user"),
            pk=_posted_id(request.POST.get("membership")),
            project=project,
        )
        name = membership.user.get_username()
        loses_admin = membership.role == Role.ADMIN and new_role != Role.ADMIN
        if loses_admin and admin_ids == [membership.pk]:
            verb = "remove" if action == "remove" else "change the role of"
            messages.error(
                request,
                f"Cannot {verb} {name}: they are the project's last admin. "
                "Make someone else an admin first.",
            )
            return back
        if action == "remove":
            membership.delete()
            messages.success(request, f"Removed {name} from the project.")
        elif membership.role != new_role:
            membership.role = new_role
            membership.save(update_fields=["role"])
            messages.success(request, f"{name} is now {new_role.label.lower()}.")
    # An admin who just removed or demoted themselves can no longer see this page.
    request.user.__dict__.get("_project_roles", {}).pop(project.pk, None)
    if not can(request.user, Action.VIEW, project):
        return redirect("corpus:project_list")
    if not can(request.user, Action.MANAGE, project):
        return redirect(project)
    return back


@login_required
def article_thread(request: HttpRequest, slug: str, article_id: int) -> HttpResponse:
    """An article with its whole reply tree, in tree order, in a constant number of queries."""
    project = project_for(request.user, slug, Action.VIEW)
    article = get_object_or_404(Article, pk=article_id, project=project)
    article.project = project  # already fetched: no second query
    return render(request, "corpus/article_thread.html", _thread_context(request, article))


@login_required
def comment_detail(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """A comment's own address: its thread, scrolled to it (links shared between people)."""
    project = project_for(request.user, slug, Action.VIEW)
    return redirect(_thread_url(comment_in(project, comment_id)))


def _thread_context(request: HttpRequest, article: Article, moving: Comment | None = None):
    """The thread page's context: numbered comments (1.. in tree order) and their parents."""
    comments = list(
        Comment.objects.thread(article).only(
            "id", "parent_id", "author", "text", "posted_at", "depth", "path"
        )
    )
    number_of: dict[int, int] = {}
    for number, comment in enumerate(comments, start=1):
        comment.number = number
        comment.parent_number = number_of.get(comment.parent_id)
        comment.indent = min(comment.depth, 10)
        number_of[comment.pk] = number
    return {
        "project": article.project,
        "article": article,
        "comments": comments,
        "can_fix_tree": can(request.user, Action.IMPORT, article.project),
        "moving": moving,
    }


def _thread_url(comment: Comment) -> str:
    """The thread page scrolled to ``comment``."""
    url = reverse("corpus:article_thread", args=[comment.article.project.slug, comment.article_id])
    return f"{url}#comment-{comment.pk}"


@login_required
@require_http_methods(["GET", "POST"])
def comment_reparent(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Attach a comment to another parent (or to the article).

    GET shows the small "move" form: as a partial loaded on demand by htmx into the comment
    (so a 2,000-comment page does not carry 2,000 forms), or as the thread page with the form
    open when htmx is off. POST moves the comment and its replies and goes back to it; when
    the move would set labels aside (answers about the old parent, see ``moves.py``) the
    first POST only shows how many, with Confirm and Cancel, and the move waits for
    ``confirm``. htmx gets the confirmation as a partial in place of the form, and an
    ``HX-Redirect`` to the thread once something was done.
    """
    project = project_for(request.user, slug, Action.IMPORT)
    comment = comment_in(project, comment_id)
    if request.method == "GET":
        if request.htmx:
            return render(
                request,
                "corpus/article_thread.html#move-form",
                {"project": project, "comment": comment},
            )
        return render(
            request,
            "corpus/article_thread.html",
            _thread_context(request, comment.article, moving=comment),
        )
    form = CommentMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the number of the comment it answers (0 for the article).")
        return _back_to(request, comment)
    number = form.cleaned_data["parent_number"]
    new_parent = None
    if number:
        new_parent = next(
            iter(Comment.objects.thread(comment.article_id)[number - 1 : number]), None
        )
        if new_parent is None:
            messages.error(request, f"There is no comment #{number} in this thread.")
            return _back_to(request, comment)
    if (new_parent.pk if new_parent else None) == comment.parent_id:
        messages.info(request, "Nothing to do: it already answers that.")
        return _back_to(request, comment)
    if not form.cleaned_data["confirm"]:
        impact = impact_of_move(comment, new_parent)
        if not impact.is_empty:
            return _confirm_move(request, comment, new_parent, number, impact)
    try:
        comment.move_under(new_parent, actor=request.user)
    except ValueError as error:
        messages.error(request, f"Not moved: {error}")
    else:
        if new_parent is None:
            messages.success(request, "Moved: the comment now answers the article.")
        else:
            messages.success(
                request,
                f"Moved: the comment now answers {new_parent.author or 'anonymous'} "
                f"(“{new_parent.text[:60]}”).",
            )
    return _back_to(request, comment)


def _back_to(request: HttpRequest, comment: Comment) -> HttpResponse:
    """To the thread at ``comment``: a redirect, or for htmx a full-page ``HX-Redirect`` (the
    numbers of the whole thread change with a move, and the message shows on the page)."""
    url = _thread_url(comment)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        # From the thread page itself only the #fragment differs, which would not reload.
        current = urlsplit(request.htmx.current_url or "")
        if current.path == urlsplit(url).path:
            response["HX-Refresh"] = "true"
        return response
    return HttpResponseRedirect(url)


def _confirm_move(
    request: HttpRequest,
    comment: Comment,
    new_parent: Comment | None,
    number: int,
    impact: MoveImpact,
) -> HttpResponse:
    """The confirmation of a move that sets labels aside: in place of the form (htmx), or
    the thread page with it open at the comment. Nothing is written."""
    context = None
    if request.htmx:
        thread = Comment.objects.thread(comment.article_id).values_list("pk", flat=True)
        numbers = {pk: n for n, pk in enumerate(thread, start=1)}
    else:
        context = _thread_context(request, comment.article, moving=comment)
        numbers = {c.pk: c.number for c in context["comments"]}
    target = f"#{number}" if new_parent is not None else "the article"
    confirming = {
        "comment": comment,
        "parent_number": number,
        "impact": impact,
        "message": impact.describe(f"#{numbers.get(comment.pk, comment.pk)}", target),
    }
    if context is None:
        return render(
            request,
            "corpus/article_thread.html#move-confirm",
            {"project": comment.article.project, **confirming},
        )
    context["confirming"] = confirming
    return render(request, "corpus/article_thread.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def article_delete(request: HttpRequest, slug: str, article_id: int) -> HttpResponse:
    """Delete an article with its comments and labels, after a page that says how many.

    GET shows the counts ("Deletes N comments, M annotations by K annotators, G gold
    labels") with the form; POST sends them back and deletes only if they still hold (else
    the page comes back with the new counts), records a ``DeletedArticle`` and goes to the
    project. Project admins only, like every other change to the corpus.
    """
    project = project_for(request.user, slug, Action.IMPORT)
    article = get_object_or_404(
        Article.objects.only("pk", "project_id", "title", "source_id"),
        pk=article_id,
        project=project,
    )
    article.project = project
    status = 200
    notice = ""
    if request.method == "POST":
        form = ArticleDeleteForm(request.POST)
        if form.is_valid():
            try:
                record = delete_article(article, request.user, DeletionImpact(**form.cleaned_data))
            except CountsChanged:
                notice = "The counts changed since the page was shown: check them again."
                status = 409
            else:
                messages.success(
                    request,
                    f"Deleted “{record.title}”: {record.comments} comments, "
                    f"{record.annotations} annotations, {record.gold_labels} gold labels.",
                )
                return redirect(project)
        else:
            notice = "The confirmation was incomplete: check the counts and confirm again."
            status = 400
    impact = impact_of_deleting(article)
    return render(
        request,
        "corpus/article_delete.html",
        {
            "project": project,
            "article": article,
            "impact": impact,
            "form": ArticleDeleteForm(initial=impact.as_form_data()),
            "notice": notice,
        },
        status=status,
    )
