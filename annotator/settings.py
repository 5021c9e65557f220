"""Settings for the comment annotator, all driven by environment variables.

Defaults are safe for production (DEBUG off, a secret key required, only local hosts
allowed); the quick-start script (`dev.py`) sets the variables a laptop needs.
"""

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import dj_database_url
import dj_email_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(os.environ.get("LOCAL_DIR", BASE_DIR / ".local"))


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no environment variable ("1", "true", "yes", "on" mean yes)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable into a list without blanks."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for local development).")
    SECRET_KEY = "insecure-local-development-key"  # noqa: S105 - only ever with DEBUG on

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "annotator.corpus",
    "annotator.labelling",
    "annotator.review",
    "annotator.datasets",
    "annotator.assist",
    "annotator.api",
    "annotator.accounts",
    "annotator.archives",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the lockout page
]
# Django answers every 404 with its technical page while DEBUG is on (`python3 dev.py run`);
# this serves the app's own instead (annotator/errors.py). TECHNICAL_404=1 brings Django's back.
if DEBUG and not env_bool("TECHNICAL_404"):
    MIDDLEWARE.append("annotator.errors.AppNotFoundPageMiddleware")

ROOT_URLCONF = "annotator.urls"
WSGI_APPLICATION = "annotator.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# PostgreSQL in production (DATABASE_URL=postgres://...); an embedded SQLite file by default.
LOCAL_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{LOCAL_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the task worker share the file. WAL lets readers run beside a
    # writer; IMMEDIATE transactions take the write lock up front, so a transaction never
    # fails half-way with "database is locked"; the timeout makes a writer wait its turn.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get("SQLITE_TEST_NAME")

# --- Connection pooling -----------------------------------------------------------------------
# DATABASE_POOLER=pgbouncer-transaction when DATABASE_URL points at PgBouncer (or a pooler
# like it) in transaction pooling mode, where each transaction may run on another server
# connection. It selects Django's PostgreSQL backend with one change (annotator/pgbouncer/):
# streaming reads outside a transaction use no held server-side cursor, which would stay on
# one server connection; inside a transaction (exports) they keep theirs. Claims take only
# transaction-scoped advisory locks, and Django leaves psycopg's prepared statements off
# (prepare_threshold None): do not set OPTIONS["prepare_threshold"] behind PgBouncer before
# 1.21. Unset: a direct connection. See docs/deploy.md and bench/pgbouncer_check.py.
DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "")
if DATABASE_POOLER not in {"", "pgbouncer-transaction"}:
    raise ImproperlyConfigured(
        f"DATABASE_POOLER={DATABASE_POOLER!r}: the one value known is 'pgbouncer-transaction'"
    )
if DATABASE_POOLER and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_POOLER needs a PostgreSQL DATABASE_URL")
if DATABASE_POOLER:
    DATABASES["default"]["ENGINE"] = "annotator.pgbouncer"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "corpus:project_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", LOCAL_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", LOCAL_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}


# --- Object store (uploads and exports) -------------------------------------------------------
# STORAGE_BUCKET set: uploads and export files live in that bucket of an S3-compatible store
# (django-storages' S3Storage over boto3), so web and worker processes on different hosts
# share nothing but the database, the cache and the store. STORAGE_ENDPOINT_URL names a
# store other than AWS (MinIO, Ceph, ...), STORAGE_REGION its region, STORAGE_PREFIX a key
# prefix inside the bucket; STORAGE_ACCESS_KEY_ID / STORAGE_SECRET_ACCESS_KEY, else boto3's
# own chain (AWS_* variables, instance role). Unset: files in MEDIA_ROOT, as ever.
# Objects are private (no ACL) and never overwritten; reads are streamed by ranged GETs
# (annotator/corpus/stored_files.py), writes are multipart uploads of STORAGE_PART_BYTES.
def object_store(environ: Mapping[str, str]) -> dict | None:
    """``STORAGES["default"]`` for the S3-compatible store that ``environ`` names, or None
    when it names none (STORAGE_BUCKET unset). The tests build theirs with it too."""
    bucket = environ.get("STORAGE_BUCKET", "").strip()
    if not bucket:
        return None
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config as BotoConfig

    endpoint_url = environ.get("STORAGE_ENDPOINT_URL", "").strip() or None
    part_bytes = int(environ.get("STORAGE_PART_BYTES", str(8 * 1024 * 1024)))
    # Multipart in parts of STORAGE_PART_BYTES (S3's minimum is 5 MiB), at most 4 read into
    # memory at a time (s3transfer's default is 10): 4 parts whatever the file's size.
    transfer = TransferConfig(
        multipart_threshold=part_bytes, multipart_chunksize=part_bytes, max_concurrency=4
    )
    transfer.max_in_memory_upload_chunks = 4
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url,
            "region_name": environ.get("STORAGE_REGION", "").strip() or "us-east-1",
            "access_key": environ.get("STORAGE_ACCESS_KEY_ID") or None,
            "secret_key": environ.get("STORAGE_SECRET_ACCESS_KEY") or None,
            "location": environ.get("STORAGE_PREFIX", "").strip().strip("/"),
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            # Anything still read through S3File spools to disk past 8 MiB, not to memory.
            "max_memory_size": 8 * 1024 * 1024,
            "client_config": BotoConfig(
                signature_version="s3v4",
                # A store of one's own (an endpoint URL) is addressed by path: MinIO and
                # moto have no wildcard DNS for bucket.host names.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
            "transfer_config": transfer,
        },
    }


if (_store := object_store(os.environ)) is not None:
    STORAGES["default"] = _store

# --- E-mail and invitations (annotator/accounts/) -------------------------------------------
# EMAIL_URL configures sending (smtp://user:pass@host:587/?tls=True&_default_from_email=...,
# parsed by dj-email-url): invitations are e-mailed and passwords can be reset by e-mail.
# Unset, nothing is sent and invitation links are only shown to the admin to pass on; with
# DEBUG on, e-mails are printed to the console instead, so the whole journey can be tried.
EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL:
    globals().update(
        {key: value for key, value in dj_email_url.parse(EMAIL_URL).items() if value is not None}
    )
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
EMAIL_ENABLED = bool(EMAIL_URL) or DEBUG
# How long an invitation link works, in days.
INVITATION_MAX_AGE_DAYS = int(os.environ.get("INVITATION_MAX_AGE_DAYS", "7"))

# --- Uploads and imports ----------------------------------------------------------------------
# Uploads larger than this go to a temporary file instead of memory; imports stream from disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Larger uploads are spooled to FILE_UPLOAD_TEMP_DIR; a full disk there is a 507, not a 500.
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "annotator.corpus.upload_handlers.FullDiskAwareUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The largest import file accepted through the browser (the command line has no limit).
IMPORT_MAX_UPLOAD_BYTES = int(os.environ.get("IMPORT_MAX_UPLOAD_BYTES", str(2 * 1024**3)))
# A comment longer than this (in characters) is refused: it is not a reader comment.
IMPORT_MAX_TEXT_CHARS = int(os.environ.get("IMPORT_MAX_TEXT_CHARS", "100000"))
# Uploads at least this large are imported by the background worker with a progress bar.
IMPORT_BACKGROUND_BYTES = int(os.environ.get("IMPORT_BACKGROUND_BYTES", str(1024 * 1024)))
# Projects with at least this many comments are exported by the background worker, with a
# progress bar; smaller ones are built during the request.
EXPORT_BACKGROUND_COMMENTS = int(os.environ.get("EXPORT_BACKGROUND_COMMENTS", "5000"))

# --- Shared cache (CACHE_URL) -----------------------------------------------------------------
# With several processes (gunicorn workers, db_worker), CACHE_URL=redis://host:6379/0 makes
# them share one cache through Django's built-in Redis backend: the agreement figures and the
# review queue's scores are then computed once per change for all of them (see
# docs/deploy.md, "Shared cache"). CACHE_KEY_PREFIX separates apps sharing one Redis database.
# Unset: Django's default local-memory cache, one per process (correct, computed per process).
CACHE_URL = os.environ.get("CACHE_URL", "").strip()
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", ""),
            # A Redis that stops answering is a miss after a few seconds, not a hung request.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }

# --- Background tasks (django-tasks; Django 6: django.tasks) ----------------------------------
# A running import or export whose heartbeat is older than this (seconds) lost its worker
# and is failed (annotator/corpus/heartbeats.py). Running jobs beat every half second while
# they read or write; the longest silence is an import's resolve step (about a minute for a
# million comments), so keep this well above that.
JOB_STALE_AFTER = int(os.environ.get("JOB_STALE_AFTER", "300"))
# The built-in learner is trained again once this many labels (submitted annotations and gold)
# arrived since its newest version: checked when the models page loads, when a training run
# ends and by ``manage.py retrain_learners`` (for cron); never on the labelling path.
LEARNER_RETRAIN_AFTER = int(os.environ.get("LEARNER_RETRAIN_AFTER", "200"))
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
if SECURE_PROXY_SSL_HEADER:
    # Served over TLS only: browsers must not fall back to plain HTTP. Preload is left to
    # the operator, since it cannot be undone quickly.
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# --- Login lockout (django-axes) --------------------------------------------------------------
# After LOGIN_FAILURE_LIMIT wrong passwords for one username, or from one address, logins
# (the app's, the admin's) and token-authenticated API calls are refused for
# LOGIN_COOLOFF_MINUTES, even with the right password; see annotator/lockout.py.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = "annotator.lockout.lockout_parameters"
AXES_LOCKOUT_CALLABLE = "annotator.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# The client's address is REMOTE_ADDR unless a trusted proxy's header is named, e.g.
# CLIENT_IP_HEADER=X-Forwarded-For; the address is then taken TRUSTED_PROXY_COUNT entries
# from the right, where the proxies appended it (what a client sent before is ignored).
CLIENT_IP_HEADER = os.environ.get("CLIENT_IP_HEADER", "").strip()
if CLIENT_IP_HEADER:
    AXES_IPWARE_META_PRECEDENCE_ORDER = (
        "HTTP_" + CLIENT_IP_HEADER.upper().replace("-", "_"),
        "REMOTE_ADDR",
    )
    AXES_IPWARE_PROXY_ORDER = "right-most"
    AXES_IPWARE_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "1"))
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# Comment text is hostile scraped content: no inline script, no inline event handlers, no
# plugins, no framing. Scripts come from our own origin (htmx via django-htmx, static/app.js).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # A refused request (403, 404) is one warning line, without a traceback.
    "filters": {"refusals": {"()": "annotator.request_logging.RefusalsWithoutTraceback"}},
    "loggers": {"django.request": {"filters": ["refusals"]}},
}

# --- Operations (annotator/ops/) -------------------------------------------------------------
# /healthz says the process is up (no database); /readyz is 200 when the database answers, the
# migrations are applied, a db_worker was seen within READY_WORKER_SECONDS (0: not checked;
# never with a non-database task backend) and, when configured, the cache and the object store
# answer within READY_CHECK_TIMEOUT seconds; else 503 naming the failed check. /metrics is
# Prometheus's format for `Authorization: Bearer $METRICS_TOKEN` only (404 while unset).
# LOG_FORMAT=json writes one JSON object a line, with a line per request on
# annotator.requests (request id, user id, project, view, status, duration).
READY_WORKER_SECONDS = int(os.environ.get("READY_WORKER_SECONDS", "60"))
READY_CHECK_TIMEOUT = float(os.environ.get("READY_CHECK_TIMEOUT", "2"))
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Before django_tasks_db, whose db_worker command ours extends with the worker's presence.
INSTALLED_APPS.insert(INSTALLED_APPS.index("django_tasks_db"), "annotator.ops")
INSTALLED_APPS.append("django_prometheus")
MIDDLEWARE.insert(0, "django_prometheus.middleware.PrometheusBeforeMiddleware")
MIDDLEWARE.insert(1, "annotator.ops.logs.RequestLogMiddleware")
MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "").strip().lower()
if LOG_FORMAT == "json":
    LOGGING["formatters"] = {"json": {"()": "annotator.ops.logs.JsonLogFormatter"}}
    LOGGING["filters"]["request_context"] = {"()": "annotator.ops.logs.RequestContextFilter"}
    LOGGING["handlers"]["console"].update(formatter="json", filters=["request_context"])
    LOGGING["loggers"]["annotator.requests"] = {"level": "INFO"}
elif LOG_FORMAT not in {"", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")

# --- REST API (annotator/api/) ------------------------------------------------------------------
# Scripts authenticate with personal tokens (`Authorization: Token <key>`, made at /api/tokens/);
# the browser's session works too (with CSRF on writes), for the browsable API and the docs.
# Lists are cursor-paginated; the schema is OpenAPI 3 from drf-spectacular, with Swagger UI
# served from our own origin (drf-spectacular-sidecar), as the CSP above requires.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotator.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "annotator.api.pagination.ApiCursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["annotator.api.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Comment annotator API",
    "DESCRIPTION": (
        "Read a project's articles, reply trees, comments and labels; import threads; export "
        "the labelled corpus. Authenticate with a personal token from /api/tokens/: "
        "`Authorization: Token <key>`. Your role in each project decides what you may do, as "
        "in the browser. Lists are paginated with cursors: follow `next` until it is null."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "annotator.corpus.models.Role",
        "ImportStatusEnum": "annotator.corpus.models.ImportJob.Status",
        "ImportFormatEnum": "annotator.corpus.models.ImportJob.Format",
        "AnnotationStatusEnum": "annotator.labelling.models.Annotation.Status",
        "ExportStatusEnum": "annotator.datasets.models.ExportJob.Status",
    },
}
