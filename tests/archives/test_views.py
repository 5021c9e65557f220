"""The archive pages: only site admins, the download, the restore upload, polling."""

from __future__ import annotations

import gzip

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.archives.jobs import start_archive
from annotator.archives.models import ArchiveJob
from annotator.corpus.models import Project
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff(db):
    return UserFactory(username="site_admin", is_staff=True)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def finished(project, staff, django_capture_on_commit_callbacks) -> ArchiveJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = start_archive(project, staff)
    job.refresh_from_db()
    return job


def urls(project, job) -> list[str]:
    return [
        reverse("archives:archive_list", args=[project.slug]),
        reverse("archives:restore"),
        reverse("archives:job_detail", args=[job.pk]),
        reverse("archives:job_download", args=[job.pk]),
    ]


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_site_admins_see_every_page(client, request, project, finished, who):
    client.force_login(request.getfixturevalue(who))
    for url in urls(project, finished):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    ("who", "status"),
    [("project_admin", 403), ("annotator", 403), ("researcher", 403), ("outsider", None)],
)
def test_nobody_else_sees_them(client, request, project, finished, who, status):
    client.force_login(request.getfixturevalue(who))
    project_status = status or 404
    expected = [project_status, 403, 403, 403]
    got = [client.get(url).status_code for url in urls(project, finished)]
    assert got == expected
    assert client.post(urls(project, finished)[0]).status_code == project_status
    assert ArchiveJob.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client, project, finished):
    for url in urls(project, finished):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_inactive_staff_account_is_refused(client, project, finished):
    client.force_login(UserFactory(username="gone", is_staff=True, is_active=False))
    assert client.get(urls(project, finished)[1]).status_code in {302, 403}


def test_the_project_page_links_to_its_archives_for_site_admins_only(
    client, project, staff, project_admin
):
    link = reverse("archives:archive_list", args=[project.slug])
    client.force_login(staff)
    staff_page = client.get(project.get_absolute_url())
    client.force_login(project_admin)
    admin_page = client.get(project.get_absolute_url())
    # A staff account that is not a member does not see the project at all.
    assert staff_page.status_code == 404 or link in staff_page.content.decode()
    assert link not in admin_page.content.decode()
    superuser = UserFactory(username="root2", is_superuser=True)
    client.force_login(superuser)
    assert link in client.get(project.get_absolute_url()).content.decode()


def test_posting_starts_an_archive_and_the_download_is_the_archive(
    client, project, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("archives:archive_list", args=[project.slug]))
    job = ArchiveJob.objects.get()
    assert response["Location"] == reverse("archives:job_detail", args=[job.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Download archive" in page
    download = client.get(reverse("archives:job_download", args=[job.pk]))
    assert download["Content-Disposition"].startswith('attachment; filename="aleppo-')
    lines = gzip.decompress(b"".join(download.streaming_content)).splitlines()
    assert b'"project":"aleppo"' in lines[0]


def test_the_progress_partial_is_served_to_htmx(client, project, staff):
    job = ArchiveJob.objects.create(kind="archive", project=project, slug=project.slug)
    client.force_login(staff)
    response = client.get(reverse("archives:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert content.lstrip().startswith('<section id="archive-progress"')
    assert 'hx-trigger="every 1s"' in content and "<html" not in content


def test_an_unfinished_job_has_no_download(client, project, staff):
    job = ArchiveJob.objects.create(kind="archive", project=project, slug=project.slug)
    client.force_login(staff)
    assert client.get(reverse("archives:job_download", args=[job.pk])).status_code == 404


def test_uploading_an_archive_restores_it(
    client, project, staff, finished, django_capture_on_commit_callbacks
):
    with finished.file.open("rb") as stored:
        data = stored.read()
    client.force_login(staff)
    upload = SimpleUploadedFile("aleppo.jsonl.gz", data)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("archives:restore"), {"archive": upload, "slug": "copy"})
    job = ArchiveJob.objects.get(kind="restore")
    assert response["Location"] == reverse("archives:job_detail", args=[job.pk])
    assert Project.objects.filter(slug="copy").exists()
    assert "Restored as" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"slug": "aleppo"}, "exists already"),
        ({"slug": "not a slug"}, "valid"),
        ({}, "required"),
    ],
)
def test_a_bad_upload_form_is_refused_with_nothing_queued(client, project, staff, data, error):
    client.force_login(staff)
    if data:
        data["archive"] = SimpleUploadedFile("a.jsonl.gz", b"whatever")
    response = client.post(reverse("archives:restore"), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ArchiveJob.objects.exists()


def test_a_file_that_is_no_archive_fails_its_job_with_a_message(
    client, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    upload = SimpleUploadedFile("notes.txt", b"just some notes")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("archives:restore"), {"archive": upload})
    page = client.get(response["Location"]).content.decode()
    assert "not a gzip file" in page and "Nothing was restored" in page


def test_the_matrix_covers_every_route_of_the_archives_app(project, finished):
    from django.urls import URLPattern, resolve

    from annotator.archives import urls as archive_urls

    routes = {p.name for p in archive_urls.urlpatterns if isinstance(p, URLPattern)}
    assert {resolve(url).url_name for url in urls(project, finished)} == routes
