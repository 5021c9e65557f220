"""Property-based tests of the whole API against its own OpenAPI schema, with schemathesis.

Schemathesis reads /api/schema/ from the WSGI application and, for every operation,
generates valid and invalid requests (parameters, bodies, uploads), sent with the token
of a researcher and of an admin of a seeded project. Every response must not be a server
error, must use a documented status code and content type and match the documented
schema, and invalid input must be refused with a 4xx (schemathesis' default checks).

The schema is loaded when the module is collected, so what the requests point at is fixed
in advance: the seeded project's slug, rows with known ids, and tokens with known keys.
Pinning the path parameters makes requests reach the real views instead of stopping at
a 404. (Loading the schema from a fixture, ``schemathesis.pytest.from_fixture``, would
avoid that but does not run under pytest 9.)
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from annotator.api.models import ApiToken, hash_key
from annotator.assist.models import PredictionRun
from annotator.corpus.models import Article, ImportJob
from annotator.datasets.models import ExportJob
from annotator.wsgi import application
from tests.factories import UserFactory, make_comment, make_label, make_thread

pytestmark = pytest.mark.django_db

# Per operation and role: the module runs in under a minute. Raise it for a deeper search,
# e.g. SCHEMATHESIS_MAX_EXAMPLES=200 with DATABASE_URL pointing at PostgreSQL.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
SEED_ID = 900_001  # the seeded article, import and export (far above any sequence in use)
RESEARCHER_KEY = "ca_schemathesis-researcher-key"
ADMIN_KEY = "ca_schemathesis-admin-key"


def load_schema(key: str):
    """The API's schema, with every request sent as the owner of ``key`` to the seed rows."""
    config = SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Token {key}"},
            "parameters": {
                "path.slug": "aleppo",
                "path.article_id": SEED_ID,
                "path.job_id": SEED_ID,
                "path.run_id": SEED_ID,
            },
            "operations": [
                {
                    # OpenAPI 3.0 cannot say that `value` needs `question`; without it the
                    # request is refused with a 400 saying so.
                    "include-name": "GET /api/projects/{slug}/annotations/",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404"]
                        }
                    },
                },
                {
                    # Which question keys exist depends on the project's scheme, and three
                    # split ratios must add up to 1: no schema can say either, so options
                    # that fit the schema may still be refused with a 400 naming the problem.
                    "include-name": "POST /api/projects/{slug}/exports/",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404"]
                        }
                    },
                },
                {
                    # Whether a file is a thread depends on its bytes, which the schema can
                    # only call `binary`: a PDF, an image or other binary data is refused with
                    # a 400 saying what it is.
                    "include-name": "POST /api/projects/{slug}/imports/",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404"]
                        }
                    },
                },
                {
                    # Whether a file holds predictions depends on its bytes, like an import
                    # of threads: an empty or binary file is a 400 saying so.
                    "include-name": "POST /api/projects/{slug}/predictions/",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404"]
                        }
                    },
                },
            ],
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=config)
    schema.hook("filter_body")(representable_in_the_body)
    return schema


def representable_in_the_body(context, body) -> bool:
    """Drop multipart bodies holding a null: a form has no null, so the field is left out,
    which means "not given" (the default), not the invalid request schemathesis meant."""
    multipart = all(body.media_type.startswith("multipart/") for body in context.operation.body)
    return not (multipart and isinstance(body, dict) and None in body.values())


as_researcher = load_schema(RESEARCHER_KEY)
as_admin = load_schema(ADMIN_KEY)

HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure here is reproducible
    database=None,  # and no .hypothesis/ directory in the working tree
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploads and exports go to a temporary directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def same_connection():
    """Keep every request inside the test's transaction.

    Django closes a connection that is in a transaction at the start and end of each
    request (``close_old_connections``), which would end the test's transaction; Django's
    own test client unhooks it the same way while it makes a request.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def give_token(user, key: str) -> None:
    ApiToken.objects.create(
        user=user, name="schemathesis", key_hash=hash_key(key), last_four=key[-4:]
    )


@pytest.fixture(autouse=True)
def seeded(project, project_admin, researcher, annotator):
    """The project the requests point at: a thread, labels, an import, a failed export and a
    failed import of predictions."""
    give_token(researcher, RESEARCHER_KEY)
    give_token(project_admin, ADMIN_KEY)
    article = Article.objects.create(
        pk=SEED_ID, project=project, source_id="seed", title="Seed", source="South Front"
    )
    comments = make_thread(article, 12)
    top = make_comment(article, author="Rami")
    make_label(top, annotator, {"stance_article": "support", "source_cited": ["none"]})
    make_label(comments[0], UserFactory(), {"stance_article": "deny"})
    ImportJob.objects.create(pk=SEED_ID, project=project, original_name="t.jsonl", format="jsonl")
    ExportJob.objects.create(pk=SEED_ID, project=project, format="csv", status="failed", error="x")
    PredictionRun.objects.create(
        pk=SEED_ID, project=project, kind="import", status="failed", error="x", report={}
    )


@as_researcher.parametrize()
@HYPOTHESIS
def test_the_api_honours_its_schema_for_a_researcher(case):
    case.call_and_validate()


@as_admin.parametrize()
@HYPOTHESIS
def test_the_api_honours_its_schema_for_an_admin(case):
    case.call_and_validate()
