"""The Django admin: lists, search and filters, and re-parenting that keeps trees consistent."""

import pytest
from django.urls import reverse
from django.utils import timezone

from annotator.corpus.models import (
    Comment,
    DeletedArticle,
    DiscardedImport,
    ImportJob,
    Membership,
    Role,
)
from tests.factories import (
    COMPLETE_REPLY,
    ArticleFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
    make_label,
    make_thread,
)

pytestmark = pytest.mark.django_db


def change_url(comment: Comment) -> str:
    return reverse("admin:corpus_comment_change", args=[comment.pk])


def change_form_data(comment: Comment, **overrides) -> dict:
    """What the admin's change form posts for ``comment``, with some fields changed."""
    data = {
        "parent": comment.parent_id or "",
        "source_id": comment.source_id,
        "author": comment.author,
        "text": comment.text,
        "posted_at_0": "",
        "posted_at_1": "",
        "meta": "{}",
    }
    data.update(overrides)
    return data


@pytest.fixture
def tree(project):
    """a (a1 (a1x)), b — tree order."""
    article = ArticleFactory(project=project)
    a = make_comment(article, text="a")
    a1 = make_comment(article, a, text="a1")
    a1x = make_comment(article, a1, text="a1x")
    b = make_comment(article, text="b")
    return article, a, a1, a1x, b


def test_it_reparents_a_comment_and_its_replies_from_the_change_form(admin_client, tree):
    article, _a, a1, a1x, b = tree
    response = admin_client.post(change_url(a1), change_form_data(a1, parent=b.pk, text="A1"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    a1.refresh_from_db()
    a1x.refresh_from_db()
    assert (a1.parent_id, a1.depth, a1.text) == (b.pk, 1, "A1")
    assert a1.path == b.path + "000001"
    assert (a1x.parent_id, a1x.depth, a1x.path) == (a1.pk, 2, a1.path + "000001")
    assert list(Comment.objects.thread(article).values_list("text", flat=True)) == [
        "a",
        "b",
        "A1",
        "a1x",
    ]


def test_it_reparents_a_comment_to_the_article_from_the_change_form(admin_client, tree):
    _article, _a, a1, a1x, _b = tree
    admin_client.post(change_url(a1), change_form_data(a1, parent=""))
    a1.refresh_from_db()
    a1x.refresh_from_db()
    assert (a1.parent_id, a1.depth, a1.path) == (None, 0, "000003")
    assert a1x.depth == 1 and a1x.path.startswith(a1.path)


def test_it_edits_text_without_touching_the_tree(admin_client, tree):
    _, _a, a1, _, _b = tree
    before = (a1.parent_id, a1.path, a1.depth, a1.position)
    admin_client.post(change_url(a1), change_form_data(a1, text="fixed typo"))
    a1.refresh_from_db()
    assert a1.text == "fixed typo"
    assert (a1.parent_id, a1.path, a1.depth, a1.position) == before


def test_it_refuses_a_parent_inside_the_comments_own_replies(admin_client, tree):
    _, a, _a1, a1x, _ = tree
    response = admin_client.post(change_url(a), change_form_data(a, parent=a1x.pk))
    assert response.status_code == 200
    assert "cannot answer itself" in str(response.context["adminform"].form.errors)
    a.refresh_from_db()
    assert a.parent_id is None


def test_it_refuses_a_parent_from_another_article(admin_client, tree, project):
    _, a, *_ = tree
    elsewhere = make_comment(ArticleFactory(project=project))
    response = admin_client.post(change_url(a), change_form_data(a, parent=elsewhere.pk))
    assert "same article" in str(response.context["adminform"].form.errors)


def test_it_adds_a_comment_as_the_last_reply_of_its_parent(admin_client, tree):
    article, a, a1, _, _ = tree
    response = admin_client.post(
        reverse("admin:corpus_comment_add"),
        {
            **change_form_data(a1, parent=a.pk, source_id="new", text="late reply"),
            "article": article.pk,
        },
    )
    assert response.status_code == 302
    added = Comment.objects.get(source_id="new")
    assert (added.parent_id, added.position, added.depth) == (a.pk, 2, 1)
    assert added.path == a.path + "000002"


def test_it_searches_and_filters_comments_by_project(admin_client, project, other_project):
    make_comment(ArticleFactory(project=project), text="ceasefire talk", author="Rami")
    make_comment(ArticleFactory(project=other_project), text="ceasefire elsewhere")
    url = reverse("admin:corpus_comment_changelist")
    response = admin_client.get(url, {"q": "ceasefire", "article__project__id__exact": project.pk})
    assert [c.text for c in response.context["cl"].result_list] == ["ceasefire talk"]
    response = admin_client.get(url, {"q": "Rami"})
    assert response.context["cl"].result_count == 1


def test_it_lists_comments_in_a_constant_number_of_queries(
    admin_client, django_assert_max_num_queries, project
):
    make_thread(ArticleFactory(project=project), 60)
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:corpus_comment_changelist"))
    assert response.context["cl"].result_count == 60


def test_it_lists_articles_with_comment_counts(admin_client, project, other_project):
    article = ArticleFactory(project=project, title="Aleppo")
    make_thread(article, 4)
    ArticleFactory(project=other_project, title="Elsewhere")
    url = reverse("admin:corpus_article_changelist")
    response = admin_client.get(url, {"project__id__exact": project.pk})
    assert [(a.title, a.comment_count) for a in response.context["cl"].result_list] == [
        ("Aleppo", 4)
    ]
    assert admin_client.get(url, {"q": article.source_id}).context["cl"].result_count == 1


def test_it_edits_memberships_inline_on_the_project(admin_client, project):
    person = UserFactory(username="zoe")
    url = reverse("admin:corpus_project_change", args=[project.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url,
        {
            "name": project.name,
            "slug": project.slug,
            "description": "",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
            "annotators_per_comment": "2",
            "work_order": "thread",
            "claim_minutes": "30",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": person.pk,
            "memberships-0-role": "reviewer",
            "memberships-0-created_at_0": "2026-01-01",
            "memberships-0-created_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.context["errors"]
    assert Membership.objects.get(user=person, project=project).role == Role.REVIEWER


def test_it_shows_import_jobs_read_only(admin_client, project):
    job = ImportJob.objects.create(project=project, file="imports/x.jsonl", original_name="x.jsonl")
    changelist = admin_client.get(reverse("admin:corpus_importjob_changelist"))
    assert changelist.status_code == 200
    assert "x.jsonl" in changelist.content.decode()
    assert admin_client.get(reverse("admin:corpus_importjob_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:corpus_importjob_change", args=[job.pk]), {"original_name": "evil"}
    )
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.original_name == "x.jsonl"


def test_it_keeps_non_staff_out_of_the_admin(client, project_admin):
    client.force_login(project_admin)
    response = client.get(reverse("admin:corpus_comment_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_admin_escapes_hostile_comment_text(admin_client, project):
    make_comment(ArticleFactory(project=project), text="<script>alert(1)</script>")
    html = admin_client.get(reverse("admin:corpus_comment_changelist")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_it_registers_the_corpus_models(admin_client):
    ProjectFactory()
    for model in ("project", "article", "comment", "importjob"):
        url = reverse(f"admin:corpus_{model}_changelist")
        assert admin_client.get(url).status_code == 200, model


def test_a_new_parent_that_sets_labels_aside_waits_for_the_confirmation(
    admin_client, admin_user, tree, project
):
    _, a, a1, _, b = tree
    annotator = UserFactory(username="ann")
    labelled = make_label(a1, annotator, COMPLETE_REPLY)
    response = admin_client.post(change_url(a1), change_form_data(a1, parent=b.pk))
    assert response.status_code == 200
    assert (
        f"Moving #{a1.pk} under #{b.pk} marks 1 answer by 1 annotator as stale"
        in response.content.decode()
    )
    a1.refresh_from_db()
    assert a1.parent_id == a.pk
    response = admin_client.post(
        change_url(a1), change_form_data(a1, parent=b.pk, confirm_stale_labels="on")
    )
    assert response.status_code == 302
    a1.refresh_from_db()
    assert a1.parent_id == b.pk
    labelled.refresh_from_db()
    assert "stance_parent" in labelled.stale_answers
    assert labelled.events.latest("id").actor == admin_user


def test_the_history_of_deletions_is_listed_and_read_only(admin_client, project):
    deleted = DeletedArticle.objects.create(
        project=project, title="Gone thread", source_id="sf-9", comments=4, deleted_by_name="ada"
    )
    discarded = DiscardedImport.objects.create(
        project=project, original_name="notes.txt", format="text", uploaded_at=timezone.now()
    )

    articles = admin_client.get(reverse("admin:corpus_deletedarticle_changelist"))
    imports = admin_client.get(reverse("admin:corpus_discardedimport_changelist"))

    assert "Gone thread" in articles.content.decode()
    assert "notes.txt" in imports.content.decode()
    assert admin_client.get(reverse("admin:corpus_deletedarticle_add")).status_code == 403
    change = reverse("admin:corpus_deletedarticle_change", args=[deleted.pk])
    assert admin_client.post(change, {"title": "rewritten"}).status_code == 403
    deleted.refresh_from_db()
    assert deleted.title == "Gone thread"
    assert discarded.pk
