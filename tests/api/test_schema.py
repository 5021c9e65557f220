"""The OpenAPI schema (valid, no generator warnings) and the docs page under our strict CSP."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    # --fail-on-warn turns any drf-spectacular warning (an unguessable type, a clash of
    # enum names, an unannotated view) into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")


def test_the_schema_is_served_and_documents_every_endpoint(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["paths"]) == {
        "/api/projects/",
        "/api/projects/{slug}/",
        "/api/projects/{slug}/articles/",
        "/api/projects/{slug}/articles/{article_id}/",
        "/api/projects/{slug}/articles/{article_id}/thread/",
        "/api/projects/{slug}/comments/",
        "/api/projects/{slug}/annotations/",
        "/api/projects/{slug}/gold/",
        "/api/projects/{slug}/agreement/",
        "/api/projects/{slug}/imports/",
        "/api/projects/{slug}/imports/{job_id}/",
        "/api/projects/{slug}/exports/",
        "/api/projects/{slug}/exports/{job_id}/",
        "/api/projects/{slug}/exports/{job_id}/download/",
        "/api/projects/{slug}/predictions/",
        "/api/projects/{slug}/predictions/runs/{run_id}/",
        "/api/projects/{slug}/models/",
    }
    token = schema["components"]["securitySchemes"]["tokenAuth"]
    assert token == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": token["description"],
    }
    assert "Token <key>" in token["description"]


def test_every_operation_documents_its_errors(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "401" in codes, (method, path)
            if "{slug}" in path:
                assert "404" in codes, (method, path)


def test_labels_cannot_be_written_through_the_api(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert list(schema["paths"]["/api/projects/{slug}/annotations/"]) == ["get"]


def test_the_docs_page_loads_only_scripts_and_styles_from_our_origin(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts
    for attributes, body in scripts:
        assert 'src="/' in attributes, "an inline script would be refused by the CSP"
        assert not body.strip()
    assert "<style" not in html
    assert "cdn" not in html.lower()
    for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(asset), asset


def test_the_docs_init_script_is_served_from_its_own_url(client):
    html = client.get("/api/docs/").content.decode()
    (script_url,) = re.findall(r'<script src="(/api/docs/\?[^"]*)"', html)
    response = client.get(script_url.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content.decode()
    assert "SwaggerUIBundle(" in body
    assert 'url: "/api/schema/"' in body


def test_the_docs_need_no_login(db):
    """A researcher reads how to use the API before making a token."""
    assert Client().get("/api/docs/").status_code == 200
    assert Client().get("/api/schema/").status_code == 200
