"""The REST API's endpoints: who may call what, what comes back, pagination, filters, and
the number of queries each list costs."""

import errno
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.corpus.importers import ACCEPTED
from annotator.corpus.models import Article, Comment, ImportJob, Role
from annotator.corpus.uploads import NO_SPACE_MESSAGE
from annotator.datasets.models import ExportJob
from annotator.labelling.models import Annotation
from annotator.review.models import GoldLabel
from tests.datasets.corpus import make_gold
from tests.factories import (
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_comment,
    make_label,
    make_model,
    make_thread,
    make_token,
)

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploads and exports go to a temporary directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


def as_user(user) -> Client:
    """A client that sends ``user``'s personal token, as a script would."""
    return Client(headers={"authorization": f"Token {make_token(user)}"})


@pytest.fixture
def corpus(project, annotator):
    """One article with a small reply tree; two annotators have labelled the first comment."""
    article = ArticleFactory(project=project, source="South Front", published_at=T0)
    top = make_comment(article, author="Rami", posted_at=T0)
    reply = make_comment(article, parent=top, posted_at=T0 + timedelta(hours=1))
    second = make_comment(article, posted_at=T0 + timedelta(hours=2))
    deep = make_comment(article, parent=reply, posted_at=T0 + timedelta(hours=3))
    other = UserFactory(username="other_annotator")
    make_label(top, annotator, {"stance_article": "support", "source_cited": ["none"]}, "draft")
    make_label(top, other, {"stance_article": "deny", "source_cited": ["link", "quote"]}, "draft")
    return {"article": article, "comments": [top, reply, deep, second], "other": other}


def url(name: str, project, *args) -> str:
    return reverse(f"api:{name}", args=[project.slug, *args])


# --- Who may call what ------------------------------------------------------------------------

READ_ENDPOINTS = ["project_detail", "article_list", "comment_list", "annotation_list"]


@pytest.mark.parametrize("name", READ_ENDPOINTS)
@pytest.mark.parametrize("role", ["project_admin", "annotator", "reviewer", "researcher"])
def test_every_member_reads_the_corpus(request, corpus, project, name, role):
    response = as_user(request.getfixturevalue(role)).get(url(name, project))
    assert response.status_code == 200


@pytest.mark.parametrize("role", ["project_admin", "annotator", "reviewer", "researcher"])
def test_every_member_reads_an_article_and_its_thread(request, corpus, project, role):
    client = as_user(request.getfixturevalue(role))
    article = corpus["article"]
    assert client.get(url("article_detail", project, article.pk)).status_code == 200
    assert client.get(url("article_thread", project, article.pk)).status_code == 200


ALL_PROJECT_URLS = [
    ("project_detail", ()),
    ("article_list", ()),
    ("article_detail", ("article",)),
    ("article_thread", ("article",)),
    ("comment_list", ()),
    ("annotation_list", ()),
    ("import_list", ()),
    ("export_list", ()),
]


@pytest.mark.parametrize(("name", "args"), ALL_PROJECT_URLS)
def test_an_outsider_gets_404_for_everything_in_the_project(corpus, project, outsider, name, args):
    values = [corpus[a].pk for a in args]
    response = as_user(outsider).get(url(name, project, *values))
    assert response.status_code == 404
    assert response.json() == {"detail": "No such project."}


def test_an_outsider_gets_the_same_404_as_for_a_project_that_does_not_exist(outsider):
    response = as_user(outsider).get("/api/projects/no-such-project/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such project."}


@pytest.mark.parametrize(("name", "args"), ALL_PROJECT_URLS)
def test_anonymous_requests_get_401(corpus, project, name, args):
    values = [corpus[a].pk for a in args]
    response = Client().get(url(name, project, *values))
    assert response.status_code == 401


def test_a_member_gets_404_for_another_projects_article(corpus, annotator, other_project):
    elsewhere = ArticleFactory(project=other_project)
    client = as_user(annotator)
    project = corpus["article"].project
    assert client.get(url("article_detail", project, elsewhere.pk)).status_code == 404
    assert client.get(url("article_thread", project, elsewhere.pk)).status_code == 404


@pytest.mark.parametrize("role", ["annotator", "reviewer", "researcher"])
def test_only_admins_see_and_start_imports(request, project, role):
    client = as_user(request.getfixturevalue(role))
    listing = client.get(url("import_list", project))
    assert listing.status_code == 403
    assert listing.json() == {"detail": "Your role in Aleppo ceasefire does not allow this."}
    upload = SimpleUploadedFile("thread.jsonl", (SAMPLES / "thread.jsonl").read_bytes())
    assert client.post(url("import_list", project), {"file": upload}).status_code == 403
    assert not ImportJob.objects.exists()


def test_an_annotator_cannot_export(project, annotator):
    client = as_user(annotator)
    assert client.get(url("export_list", project)).status_code == 403
    response = client.post(url("export_list", project), {}, content_type="application/json")
    assert response.status_code == 403
    assert "does not allow" in response.json()["detail"]
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("role", ["researcher", "reviewer", "project_admin"])
def test_researchers_reviewers_and_admins_start_exports(request, project, corpus, role):
    response = as_user(request.getfixturevalue(role)).post(
        url("export_list", project), {"format": "csv"}, content_type="application/json"
    )
    assert response.status_code == 202
    job = ExportJob.objects.get()
    assert response["Location"] == response.json()["url"]
    assert response.json()["url"].endswith(url("export_detail", project, job.pk))
    assert response.json()["options"]["format"] == "csv"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("name", ["annotation_list", "comment_list", "article_list"])
def test_nobody_writes_labels_or_the_corpus_through_the_api(
    corpus, project, project_admin, name, method
):
    response = getattr(as_user(project_admin), method)(
        url(name, project), {}, content_type="application/json"
    )
    assert response.status_code == 405
    assert Annotation.objects.count() == 2


def test_a_superuser_sees_every_project_without_a_role(project, other_project):
    boss = UserFactory(username="boss", is_superuser=True)
    response = as_user(boss).get("/api/projects/")
    assert {p["slug"]: p["role"] for p in response.json()["results"]} == {
        "aleppo": None,
        "other": None,
    }


# --- Projects ---------------------------------------------------------------------------------


def test_the_project_list_shows_my_projects_with_my_role(project, researcher, other_project):
    response = as_user(researcher).get("/api/projects/")
    assert response.json()["results"] == [
        {
            "slug": "aleppo",
            "name": "Aleppo ceasefire",
            "description": "",
            "created_at": project.created_at.isoformat().replace("+00:00", "Z"),
            "role": "researcher",
            "url": "http://testserver/api/projects/aleppo/",
        }
    ]


def test_a_project_says_what_my_role_allows(project, researcher):
    data = as_user(researcher).get(url("project_detail", project)).json()
    assert data["role"] == "researcher"
    assert data["allowed_actions"] == ["view", "results", "export"]
    assert data["links"]["articles"] == "http://testserver/api/projects/aleppo/articles/"
    assert data["links"]["exports"] == "http://testserver/api/projects/aleppo/exports/"


# --- Articles, threads, comments --------------------------------------------------------------


def test_articles_come_with_their_comment_count(corpus, project, researcher):
    (row,) = as_user(researcher).get(url("article_list", project)).json()["results"]
    article = corpus["article"]
    assert row["id"] == article.pk
    assert row["comment_count"] == 4
    assert row["source"] == "South Front"
    assert "body" not in row


def test_an_article_comes_with_its_body(corpus, project, researcher):
    article = corpus["article"]
    data = as_user(researcher).get(url("article_detail", project, article.pk)).json()
    assert data["body"] == article.body
    assert data["comment_count"] == 4


def test_articles_filter_by_publication_time_and_source(project, researcher):
    early = ArticleFactory(project=project, published_at=T0, source="A")
    late = ArticleFactory(project=project, published_at=T0 + timedelta(days=2), source="B")
    client = as_user(researcher)

    def ids(**query):
        response = client.get(url("article_list", project), query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(published_after=(T0 + timedelta(days=1)).isoformat()) == [late.pk]
    assert ids(published_before=(T0 + timedelta(days=1)).isoformat()) == [early.pk]
    assert ids(published_after=T0.isoformat()) == [early.pk, late.pk]  # inclusive
    assert ids(source="A") == [early.pk]


def test_a_bad_filter_value_is_a_400_naming_the_parameter(project, researcher):
    response = as_user(researcher).get(url("article_list", project), {"published_after": "soon"})
    assert response.status_code == 400
    assert "published_after" in response.json()


@pytest.mark.parametrize(
    "moment",
    ["2024-05-01T12:00:00-19:35", "0145-11-14T04:27:58.335-19:35", "2024-05-01T12:00:00+23:59"],
)
def test_any_utc_offset_iso_8601_allows_is_accepted(corpus, project, researcher, moment):
    """PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows (found by schemathesis)."""
    response = as_user(researcher).get(url("comment_list", project), {"posted_before": moment})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("moment", "after", "before"),
    [("0001-01-01T00:00:00+05:00", 4, 0), ("9999-12-31T23:00:00-05:00", 0, 4)],
)
def test_a_time_beyond_the_calendar_in_utc_is_the_calendars_end(
    corpus, project, researcher, moment, after, before
):
    client = as_user(researcher)
    for parameter, expected in (("posted_after", after), ("posted_before", before)):
        response = client.get(url("comment_list", project), {parameter: moment})
        assert response.status_code == 200
        assert len(response.json()["results"]) == expected


@pytest.mark.parametrize(
    ("name", "parameter"),
    [
        ("article_list", "published_before"),
        ("comment_list", "depth"),
        ("annotation_list", "status"),
    ],
)
def test_a_typed_filter_left_empty_is_a_400_not_no_filter(project, researcher, name, parameter):
    response = as_user(researcher).get(url(name, project), {parameter: ""})
    assert response.status_code == 400
    assert response.json() == {parameter: ["Give a value, or leave the parameter out."]}


def test_an_empty_text_filter_means_no_filter(project, researcher):
    ArticleFactory(project=project, source="A")
    response = as_user(researcher).get(url("article_list", project), {"source": ""})
    assert len(response.json()["results"]) == 1


def test_the_thread_comes_in_tree_order_with_parent_depth_and_position(corpus, project, annotator):
    top, reply, deep, second = corpus["comments"]
    article = corpus["article"]
    rows = as_user(annotator).get(url("article_thread", project, article.pk)).json()["results"]
    assert [row["id"] for row in rows] == [top.pk, reply.pk, deep.pk, second.pk]
    assert [(row["parent"], row["depth"], row["position"]) for row in rows] == [
        (None, 0, 1),
        (top.pk, 1, 1),
        (reply.pk, 2, 1),
        (None, 0, 2),
    ]
    assert rows[0]["author"] == "Rami"
    assert rows[0]["article"] == article.pk


def test_the_thread_pages_continue_in_tree_order(project, annotator):
    article = ArticleFactory(project=project)
    make_thread(article, 60)
    expected = list(Comment.objects.thread(article).values_list("pk", flat=True))
    client = as_user(annotator)
    seen, next_url, pages = [], url("article_thread", project, article.pk) + "?page_size=7", 0
    while next_url:
        page = client.get(next_url).json()
        seen += [row["id"] for row in page["results"]]
        next_url, pages = page["next"], pages + 1
    assert seen == expected
    assert pages == 9


def test_comments_filter_by_article_parent_depth_and_posting_time(corpus, project, researcher):
    top, reply, deep, second = corpus["comments"]
    ArticleFactory(project=project)  # an article without comments
    client = as_user(researcher)

    def ids(**query):
        response = client.get(url("comment_list", project), query)
        assert response.status_code == 200, response.json()
        return sorted(row["id"] for row in response.json()["results"])

    assert ids(article=corpus["article"].pk) == sorted([top.pk, reply.pk, deep.pk, second.pk])
    assert ids(parent=top.pk) == [reply.pk]
    assert ids(depth=0) == sorted([top.pk, second.pk])
    assert ids(posted_after=(T0 + timedelta(hours=2)).isoformat()) == sorted([second.pk, deep.pk])
    assert ids(posted_before=(T0 + timedelta(hours=1)).isoformat()) == [top.pk]
    assert ids(depth="1", parent=str(second.pk)) == []


@pytest.mark.parametrize(
    ("name", "parameter"),
    [("annotation_list", "comment"), ("annotation_list", "article"), ("comment_list", "parent")],
)
def test_an_id_beyond_64_bits_is_a_400_not_a_crash(project, researcher, name, parameter):
    """Found by schemathesis: SQLite cannot bind such a number (Django guards plain integer
    fields, not foreign keys)."""
    response = as_user(researcher).get(url(name, project), {parameter: str(2**80)})
    assert response.status_code == 400
    assert parameter in response.json()


def test_an_id_filter_needs_a_whole_number(project, researcher):
    response = as_user(researcher).get(url("comment_list", project), {"article": "1.5"})
    assert response.status_code == 400
    assert "article" in response.json()


def test_comments_of_other_projects_never_show(corpus, project, researcher, other_project):
    make_comment(ArticleFactory(project=other_project))
    rows = as_user(researcher).get(url("comment_list", project)).json()["results"]
    assert len(rows) == 4


# --- Annotations ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["project_admin", "reviewer", "researcher"])
def test_reviewers_researchers_and_admins_read_everyones_annotations(
    request, corpus, project, role
):
    rows = as_user(request.getfixturevalue(role)).get(url("annotation_list", project)).json()
    assert sorted(row["annotator"] for row in rows["results"]) == [
        "ann_annotator",
        "other_annotator",
    ]


def test_an_annotator_reads_only_their_own_annotations(corpus, project, annotator):
    rows = as_user(annotator).get(url("annotation_list", project)).json()["results"]
    assert [row["annotator"] for row in rows] == ["ann_annotator"]
    (row,) = rows
    assert row["comment"] == corpus["comments"][0].pk
    assert row["article"] == corpus["article"].pk
    assert row["answers"] == {"stance_article": "support", "source_cited": ["none"]}
    assert row["scheme_version"] == 1
    assert row["status"] == "draft"


def test_an_annotator_asking_for_someone_elses_annotations_gets_403(corpus, project, annotator):
    client = as_user(annotator)
    response = client.get(url("annotation_list", project), {"annotator": "other_annotator"})
    assert response.status_code == 403
    assert "only your own annotations" in response.json()["detail"]
    mine = client.get(url("annotation_list", project), {"annotator": "ann_annotator"})
    assert len(mine.json()["results"]) == 1


# --- Gold labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("project_admin", 200), ("reviewer", 200), ("researcher", 200), ("annotator", 403)],
)
def test_gold_labels_are_for_reviewers_researchers_and_admins(request, project, role, status):
    response = as_user(request.getfixturevalue(role)).get(url("gold_list", project))
    assert response.status_code == status


def test_an_outsider_gets_404_for_gold_labels(project, outsider):
    assert as_user(outsider).get(url("gold_list", project)).status_code == 404


def test_gold_labels_come_with_who_decided_and_filter_by_time(corpus, project, reviewer):
    top, reply = corpus["comments"][:2]
    early = make_gold(top, reviewer, {"stance_article": "deny"}, method="accepted")
    GoldLabel.objects.filter(pk=early.pk).update(decided_at=T0)
    make_gold(reply, reviewer, {"stance_article": "support", "source_cited": ["link"]})
    client = as_user(reviewer)

    rows = client.get(url("gold_list", project)).json()["results"]

    assert [row["comment"] for row in rows] == [top.pk, reply.pk]
    assert rows[0] == {
        "id": early.pk,
        "article": top.article_id,
        "comment": top.pk,
        "scheme_version": 1,
        "answers": {"stance_article": "deny"},
        "stale_answers": {},
        "needs_review": False,
        "method": "accepted",
        "note": "",
        "decided_by": "rev_reviewer",
        "decided_at": "2024-05-01T12:00:00Z",
        "revision": 1,
    }
    later = client.get(url("gold_list", project), {"decided_after": "2024-05-02T00:00:00Z"})
    assert [row["comment"] for row in later.json()["results"]] == [reply.pk]
    accepted = client.get(url("gold_list", project), {"method": "accepted"})
    assert [row["comment"] for row in accepted.json()["results"]] == [top.pk]
    assert client.get(url("gold_list", project), {"method": "guessed"}).status_code == 400


@pytest.mark.parametrize(
    ("role", "status"),
    [("project_admin", 200), ("reviewer", 200), ("researcher", 200), ("annotator", 403)],
)
def test_agreement_is_for_everyone_but_annotators(request, project, role, status):
    response = as_user(request.getfixturevalue(role)).get(url("agreement", project))
    assert response.status_code == status


def test_agreement_gives_every_figure_with_its_interval(project, researcher):
    people = [UserFactory(username=name) for name in ("zoe", "adam")]
    article = ArticleFactory(project=project)
    for n, (first, second) in enumerate([("deny", "deny"), ("support", "query"), ("deny", "deny")]):
        comment = make_comment(article, source_id=f"c{n}")
        make_label(comment, people[0], {"stance_article": first})
        make_label(comment, people[1], {"stance_article": second})

    figures = as_user(researcher).get(url("agreement", project)).json()["figures"]

    by_key = {(f["question"], f["subset"], f["measure"]): f for f in figures}
    percent = by_key[("stance_article", "all", "percent_agreement")]
    assert percent["value"] == pytest.approx(2 / 3, abs=1e-4)
    assert percent["comments"] == 3
    assert percent["ci_low"] <= percent["value"] <= percent["ci_high"]
    pair = by_key[("stance_article", "all", "cohen_kappa")]
    assert {pair["annotator_a"], pair["annotator_b"]} == {"zoe", "adam"}
    assert by_key[("stance_article", "replies", "percent_agreement")]["value"] is None


def test_annotations_filter_by_label_answers(corpus, project, researcher):
    client = as_user(researcher)

    def who(**query):
        response = client.get(url("annotation_list", project), query)
        assert response.status_code == 200, response.json()
        return sorted(row["annotator"] for row in response.json()["results"])

    assert who(question="stance_article", value="deny") == ["other_annotator"]
    assert who(question="source_cited", value="quote") == ["other_annotator"]  # in a list
    assert who(question="source_cited", value="none") == ["ann_annotator"]
    assert who(question="source_cited") == ["ann_annotator", "other_annotator"]
    assert who(question="claim_type") == []
    assert who(question="stance_article", value="sup") == []  # whole values only


def test_a_value_without_a_question_is_a_400(corpus, project, researcher):
    response = as_user(researcher).get(url("annotation_list", project), {"value": "deny"})
    assert response.status_code == 400
    assert "question" in response.json()["value"][0]


def test_a_malformed_question_key_is_a_400(corpus, project, researcher):
    response = as_user(researcher).get(
        url("annotation_list", project), {"question": "a') OR 1=1 --", "value": "x"}
    )
    assert response.status_code == 400
    assert "question" in response.json()


def test_annotations_filter_by_article_annotator_status_and_time(corpus, project, researcher):
    top = corpus["comments"][0]
    later = make_label(
        corpus["comments"][1],
        corpus["other"],
        {"stance_article": "query"},
        updated_at=T0 + timedelta(days=30),
    )
    Annotation.objects.exclude(pk=later.pk).update(updated_at=T0)
    client = as_user(researcher)

    def ids(**query):
        response = client.get(url("annotation_list", project), query)
        assert response.status_code == 200, response.json()
        return sorted(row["id"] for row in response.json()["results"])

    first_two = sorted(Annotation.objects.filter(comment=top).values_list("pk", flat=True))
    assert ids(article=corpus["article"].pk) == sorted([*first_two, later.pk])
    assert ids(annotator="other_annotator") == sorted(
        Annotation.objects.filter(annotator=corpus["other"]).values_list("pk", flat=True)
    )
    assert ids(status="submitted") == [later.pk]
    assert ids(updated_after=(T0 + timedelta(days=1)).isoformat()) == [later.pk]
    assert ids(updated_before=(T0 + timedelta(days=1)).isoformat()) == first_two
    assert ids(updated_after=T0.isoformat()) == sorted([*first_two, later.pk])  # inclusive
    bad = client.get(url("annotation_list", project), {"status": "gold"})
    assert bad.status_code == 400


# --- Pagination -------------------------------------------------------------------------------


def test_lists_page_with_a_cursor_without_repeats_or_gaps(project, researcher):
    articles = [ArticleFactory(project=project) for _ in range(5)]
    client = as_user(researcher)
    first = client.get(url("article_list", project), {"page_size": 2}).json()
    assert [row["id"] for row in first["results"]] == [a.pk for a in articles[:2]]
    assert first["previous"] is None
    newcomer = ArticleFactory(project=project)  # added while the script reads
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    seen = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert seen == [a.pk for a in [*articles, newcomer]]
    assert third["next"] is None
    back = client.get(second["previous"]).json()
    assert [row["id"] for row in back["results"]] == [a.pk for a in articles[:2]]


@pytest.mark.parametrize("page_size", ["0", "-1", "1001", "ten"])
def test_a_page_size_out_of_range_is_a_400(project, researcher, page_size):
    response = as_user(researcher).get(url("article_list", project), {"page_size": page_size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["Give a whole number from 1 to 1000."]}


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "cD1hYmM=",  # p=abc: a position that is not an id
        "cD0lMDA=",  # p=%00: a NUL byte
    ],
)
def test_a_forged_cursor_is_a_404_like_any_cursor_drf_cannot_read(project, researcher, cursor):
    ArticleFactory(project=project)
    response = as_user(researcher).get(url("article_list", project), {"cursor": cursor})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Invalid cursor")


# --- Imports ----------------------------------------------------------------------------------


def upload(name: str, content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (SAMPLES / name).read_bytes() if content is None else content)


def test_an_admin_imports_a_small_file_during_the_request(project, project_admin):
    client = as_user(project_admin)
    response = client.post(url("import_list", project), {"file": upload("thread.jsonl")})
    assert response.status_code == 201
    job = ImportJob.objects.get()
    data = response.json()
    assert response["Location"] == data["url"]
    assert data["status"] == "succeeded"
    assert data["format"] == "jsonl"
    assert data["comments_added"] == Comment.objects.count() > 0
    assert data["created_by"] == "ada_admin"
    assert data["page"].endswith(reverse("corpus:import_detail", args=[project.slug, job.pk]))
    detail = client.get(data["url"]).json()
    assert detail == data


def test_an_import_with_an_explicit_format(project, project_admin):
    response = as_user(project_admin).post(
        url("import_list", project), {"file": upload("thread.csv"), "format": "csv"}
    )
    assert response.status_code == 201
    assert response.json()["format"] == "csv"


def test_a_broken_file_ends_as_a_failed_job_naming_the_line(project, project_admin):
    broken = b'{"type": "article", "id": "a", "title": "T"}\n{not json\n'
    response = as_user(project_admin).post(
        url("import_list", project), {"file": upload("broken.jsonl", broken)}
    )
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "failed"
    assert "line 2" in data["error"]
    assert not Article.objects.exists()


def test_a_large_file_is_queued_with_202(project, project_admin, settings):
    settings.IMPORT_BACKGROUND_BYTES = 10
    response = as_user(project_admin).post(
        url("import_list", project), {"file": upload("thread.jsonl")}
    )
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert response.json()["percent"] == 0


def test_scraped_text_waits_for_review_in_the_browser(project, project_admin):
    text = (SAMPLES.parent / "seed_thread.txt").read_bytes()
    client = as_user(project_admin)
    response = client.post(url("import_list", project), {"file": upload("thread.txt", text)})
    assert response.status_code == 202
    data = response.json()
    job = ImportJob.objects.get()
    assert data["status"] == "preview"
    assert data["format"] == "text"
    assert (
        data["page"]
        == f"http://testserver{reverse('corpus:import_detail', args=[project.slug, job.pk])}"
    )
    assert not Article.objects.exists()  # nothing is imported before the review
    # the admin reviews and confirms in the browser; the script sees the outcome
    browser = Client()
    browser.force_login(project_admin)
    browser.post(reverse("corpus:import_confirm", args=[project.slug, job.pk]))
    assert client.get(data["url"]).json()["status"] == "succeeded"
    assert Article.objects.count() == 1


def test_text_in_another_encoding_is_refused_with_400_and_no_job(project, project_admin):
    response = as_user(project_admin).post(
        url("import_list", project),
        {"file": upload("thread.txt", b"caf\xe9\n"), "format": "text"},
    )
    assert response.status_code == 400
    assert "This is not UTF-8 text" in response.json()["file"][0]
    assert not ImportJob.objects.exists()


def test_a_pdf_is_refused_as_a_pdf_with_400_and_nothing_written(project, project_admin):
    pdf = (SAMPLES / "refused" / "article.pdf").read_bytes()
    response = as_user(project_admin).post(
        url("import_list", project), {"file": upload("article.pdf", pdf)}
    )
    assert response.status_code == 400
    assert response.json()["file"] == [
        f"article.pdf: This is a PDF document, not a comment thread. {ACCEPTED}"
    ]
    assert not ImportJob.objects.exists()
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "file", "No file was submitted."),
        ({"file": SimpleUploadedFile("empty.jsonl", b"")}, "file", "empty.jsonl is empty"),
        ({"file": SimpleUploadedFile("a.csv", b"x"), "format": "xml"}, "format", "valid choice"),
        ({"file": SimpleUploadedFile("a.csv", b"x"), "format": ""}, "format", "valid choice"),
    ],
)
def test_a_bad_upload_is_a_400_naming_the_field(project, project_admin, data, field, message):
    response = as_user(project_admin).post(url("import_list", project), data)
    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused(project, project_admin, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    response = as_user(project_admin).post(
        url("import_list", project), {"file": upload("thread.jsonl")}
    )
    assert response.status_code == 400
    assert "the largest file accepted" in response.json()["file"][0]


def test_an_import_must_be_multipart(project, project_admin):
    response = as_user(project_admin).post(
        url("import_list", project), {"file": "x"}, content_type="application/json"
    )
    assert response.status_code == 415


def test_the_import_log_lists_newest_first(project, project_admin):
    client = as_user(project_admin)
    client.post(url("import_list", project), {"file": upload("thread.jsonl")})
    client.post(url("import_list", project), {"file": upload("thread.csv")})
    rows = client.get(url("import_list", project)).json()["results"]
    assert [row["format"] for row in rows] == ["csv", "jsonl"]


def test_an_import_of_another_project_is_404(project, project_admin, other_project):
    job = ImportJob.objects.create(project=other_project, original_name="x.jsonl")
    response = as_user(project_admin).get(url("import_detail", project, job.pk))
    assert response.status_code == 404


# --- Exports ----------------------------------------------------------------------------------


def finished_export(project, **fields) -> ExportJob:
    job = ExportJob.objects.create(
        project=project, format="jsonl", status=ExportJob.Status.SUCCEEDED, **fields
    )
    job.file.save("aleppo-export.zip", ContentFile(b"PK\x05\x06" + b"\x00" * 18))
    job.filename = "aleppo-export.zip"
    job.save()
    return job


def test_a_researcher_exports_and_downloads_from_a_script(corpus, project, researcher):
    """Researcher journey, step 3: start an export, follow the job, download the zip."""
    client = as_user(researcher)
    started = client.post(
        url("export_list", project), {"format": "jsonl"}, content_type="application/json"
    )
    assert started.status_code == 202
    job = client.get(started["Location"]).json()
    assert job["status"] == "succeeded", job["error"]
    response = client.get(job["download"])
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert any(name.endswith(".jsonl") for name in names)
    assert any(name.lower().endswith(".md") for name in names)  # the dataset card


def test_a_finished_export_downloads_as_a_zip(project, researcher):
    job = finished_export(project)
    client = as_user(researcher)
    data = client.get(url("export_detail", project, job.pk)).json()
    assert data["status"] == "succeeded"
    assert data["download"].endswith(url("export_download", project, job.pk))
    response = client.get(data["download"], headers={"accept": "application/zip"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="aleppo-export.zip"'
    assert b"".join(response.streaming_content).startswith(b"PK")


@pytest.mark.parametrize(
    ("status", "message"),
    [("queued", "still queued"), ("running", "still running"), ("failed", "failed")],
)
def test_an_unfinished_or_failed_export_is_a_409_saying_why(project, researcher, status, message):
    job = ExportJob.objects.create(project=project, format="csv", status=status, error="Boom.")
    client = as_user(researcher)
    assert client.get(url("export_detail", project, job.pk)).json()["download"] is None
    response = client.get(
        url("export_download", project, job.pk), headers={"accept": "application/zip"}
    )
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["detail"]


def test_an_annotator_cannot_download_an_export(project, annotator):
    job = finished_export(project)
    response = as_user(annotator).get(url("export_download", project, job.pk))
    assert response.status_code == 403


def test_export_options_are_checked_like_the_export_page(project, researcher, corpus):
    client = as_user(researcher)
    response = client.post(
        url("export_list", project),
        {"questions": ["no_such_question"], "split": True, "split_ratios": [0.5, 0.5, 0.5]},
        content_type="application/json",
    )
    assert response.status_code == 400
    problems = response.json()["non_field_errors"]
    assert any("no_such_question" in problem for problem in problems)
    assert any("add up to 1" in problem for problem in problems)
    bad_format = client.post(
        url("export_list", project), {"format": "xlsx"}, content_type="application/json"
    )
    assert bad_format.status_code == 400
    assert "format" in bad_format.json()
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("split", "yes"),
        ("pseudonymise", 1),
        ("split_seed", "13"),
        ("split_seed", True),
        ("split_ratios", [False, 0.5, 0.5]),
        ("split_ratios", ["0.8", 0.1, 0.1]),
        ("questions", [7]),
    ],
)
def test_export_options_must_have_their_json_types(project, researcher, field, value):
    response = as_user(researcher).post(
        url("export_list", project), {field: value}, content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()


# --- Query counts -----------------------------------------------------------------------------


def queries_for(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured)


def add_rows(project, article, annotator, count: int) -> None:
    """``count`` more of every kind of row the lists show."""
    for _ in range(count):
        extra = ArticleFactory(project=project)
        comment = make_comment(extra)
        make_label(comment, annotator, {"stance_article": "support"})
        make_gold(comment, annotator, {"stance_article": "support"})
        make_comment(article)
        ImportJob.objects.create(project=project, original_name="x.jsonl", created_by=annotator)
        ExportJob.objects.create(project=project, format="csv", created_by=annotator)
        MembershipFactory(project=ProjectFactory(), user=annotator, role=Role.RESEARCHER)


LIST_URLS = [
    ("project_list", False),
    ("article_list", False),
    ("article_thread", True),
    ("comment_list", False),
    ("annotation_list", False),
    ("gold_list", False),
    ("import_list", False),
    ("export_list", False),
]


@pytest.mark.parametrize(("name", "for_article"), LIST_URLS)
def test_each_list_costs_the_same_queries_for_1_or_20_rows(
    project, project_admin, name, for_article
):
    article = ArticleFactory(project=project)
    client = as_user(project_admin)
    if name == "project_list":
        path = reverse("api:project_list")
    elif for_article:
        path = url(name, project, article.pk)
    else:
        path = url(name, project)
    client.get(path)  # the token's first use writes last_used_at; measure after it
    add_rows(project, article, project_admin, 1)
    one = queries_for(client, path)
    add_rows(project, article, project_admin, 19)
    assert queries_for(client, path) == one


def test_annotations_carry_the_model_suggestion_each_annotator_was_shown(
    project, annotator, researcher
):
    comment = make_comment(ArticleFactory(project=project))
    shown = {
        "stance_article": {
            "model": 7,
            "label": "learner@3",
            "answer": "deny",
            "confidence": 0.8,
            "mode": "preselect",
            "before": None,
            "equals": True,
        }
    }
    make_label(comment, annotator, {"stance_article": "deny"}, suggestions=shown)

    rows = as_user(researcher).get(url("annotation_list", project)).json()["results"]

    assert [row["suggestions"] for row in rows] == [shown]


def test_annotations_show_the_answers_set_aside_by_a_move(project, researcher):
    from tests.datasets.corpus import make_moved_reply

    reply, _zoe, _adam = make_moved_reply(project)
    rows = as_user(researcher).get(url("annotation_list", project)).json()["results"]
    zoe = next(row for row in rows if row["annotator"] == "zoe")
    assert "stance_parent" not in zoe["answers"]
    stale = zoe["stale_answers"]["stance_parent"]
    assert stale["value"] == "deny"
    assert stale["parent_id"] == reply.article.comments.get(source_id="t-1").pk
    assert stale["parent_source_id"] == "t-1"


def test_an_import_onto_a_full_disk_is_507_and_leaves_nothing(
    project, project_admin, settings, monkeypatch
):
    from django.core.files.storage import FileSystemStorage

    def full(self, name, content):
        Path(self.path(name)).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path(name)).touch()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", full)

    response = as_user(project_admin).post(
        url("import_list", project), {"file": upload("thread.jsonl")}
    )

    assert response.status_code == 507
    assert response.json()["detail"] == NO_SPACE_MESSAGE
    assert ImportJob.objects.count() == 0
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


@pytest.mark.parametrize(("asked", "recorded"), [({}, True), ({"predictions": False}, False)])
def test_an_export_carries_predictions_by_default_when_the_project_has_models(
    project, corpus, researcher, asked, recorded
):
    make_model(project, "stance-bert")

    response = as_user(researcher).post(
        url("export_list", project), {"format": "csv", **asked}, content_type="application/json"
    )

    assert response.status_code == 202
    assert response.json()["options"].get("predictions", False) is recorded


def test_the_predictions_option_must_be_a_boolean(project, corpus, researcher):
    response = as_user(researcher).post(
        url("export_list", project), {"predictions": "yes"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "predictions" in response.json()
    assert not ExportJob.objects.exists()
