"""assbdb settings: one module, driven by environment variables.

Every variable has a default that makes the embedded run work (SQLite, a
Celery worker on a filesystem broker, files under ./var). README lists them.
"""
import datetime
from pathlib import Path

import environ
import plotly
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional local overrides; absent in CI
VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))  # SQLite file, broker, media, beat schedule

DEFAULT_SECRET_KEY = "insecure-embedded-default-change-me"
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="") or DEFAULT_SECRET_KEY
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",  # the dev server's static files go through WhiteNoise too (see MIDDLEWARE)
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served locally, never from a CDN
    "axes",  # failed sign-in counting and lockout (see "Sign-in hardening and bounded requests" below)
    "csp",
    "apps.common",  # display formatting template tags ({% load numbers %})
    "auditlog",
    "apps.accounts",
    "apps.jobs",
    "apps.catalog",
    "apps.measurements",
    "apps.analysis",
    "apps.benchmarks",
    "apps.releases",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.common.audit.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.common.middleware.RequestLimitsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its response
]
if DEBUG:
    # The development server (run_site) has no precompressed files: gzip static files (plotly.js 4.8 MB → 1.5 MB)
    # on the fly. Production serves the copies CompressedManifestStaticFilesStorage wrote at collectstatic.
    MIDDLEWARE.insert(0, "apps.common.middleware.StaticGZipMiddleware")

ROOT_URLCONF = "assbdb.urls"
WSGI_APPLICATION = "assbdb.wsgi.application"

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
                "apps.jobs.context_processors.worker_banner",
            ],
            # Numbers with units, flag and role titles, and `visible_to` (references rendered only when the viewer
            # may see them) in every template without a {% load %}.
            "builtins": ["apps.common.templatetags.numbers", "apps.accounts.templatetags.visibility"],
        },
    },
]

if not env("DATABASE_URL", default=""):
    VAR_DIR.mkdir(exist_ok=True)  # the embedded SQLite file lives here
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded worker writes while the web server reads: wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # Worker processes write concurrently: take the write lock when a transaction starts (a read
    # that later upgrades fails at once with "database is locked"), and let readers run beside a
    # writer (WAL).
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
else:
    # Keep a server database's connection across requests (a new PostgreSQL connection costs a process on the
    # server and a few ms on both sides, per request); checked before reuse, so a restarted server is survived.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # No JIT compilation: the planner compiles a query whose estimated cost is high (a visibility check
        # over thousands of ids at a million spectra), and compiling took 50 ms of a query that runs in 30.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
# plotly.js comes from the installed plotly package, so pages work offline.
STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(plotly.__file__).parent / "package_data")]
# Raw instrument files go through Django's storage API only (never a local path), so an
# S3-compatible object store (AWS S3, MinIO, Ceph) can hold them: STORAGE_BACKEND=s3.
STORAGE_BACKEND = env("STORAGE_BACKEND", default="filesystem")
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("S3_BUCKET_NAME"),
            "endpoint_url": env("S3_ENDPOINT_URL", default=None),
            "region_name": env("S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "location": env("S3_LOCATION", default=""),
            # Raw files are private: downloads stream through the site's own permission checks.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "addressing_style": env("S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
        },
    }
elif STORAGE_BACKEND == "filesystem":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'filesystem' or 's3', not {STORAGE_BACKEND!r}")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        # Production: hashed names (cached for a year by WhiteNoise) and gzip copies made by collectstatic.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))

MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=50)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_MB * 1024 * 1024
# Zip uploads: refused whole above this many files or this many unpacked megabytes (zip-bomb guard).
MAX_ZIP_MEMBERS = env.int("MAX_ZIP_MEMBERS", default=2000)
MAX_ZIP_UNCOMPRESSED_MB = env.int("MAX_ZIP_UNCOMPRESSED_MB", default=500)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Celery. Embedded default: kombu's filesystem transport needs no server and
# lets `make run` start a real worker process beside the web server.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = Path(env("BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),  # kombu's default is ./control in the cwd
        "store_processed": False,
        # The transport polls the folder; at the default 1 s a worker takes one message per second.
        "polling_interval": env.float("BROKER_POLLING_INTERVAL_S", default=0.1),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True  # state lives in the Job table, not a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing from a web request must not hang on a dead broker: a short connect timeout, one
# try (``dispatch_job`` leaves the job queued and undispatched; the sweep sends it later).
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
if not CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = CELERY_BROKER_CONNECTION_TIMEOUT
# Jobs: a queued job not started this long after it was sent is sent again (when the broker's
# queue is empty, i.e. its message was lost); the sweep runs every JOB_SWEEP_INTERVAL_S (assbdb/celery.py).
JOBS_RESEND_QUEUED_AFTER_S = env.int("JOBS_RESEND_QUEUED_AFTER_S", default=120)
# Workers beat every WORKER_HEARTBEAT_INTERVAL_S; one silent for WORKER_STALE_AFTER_S is dead
# and the jobs it was running are taken back. Jobs of unknown workers are taken back when their
# own heartbeat is older than JOBS_RUNNING_STALE_S (past the hard time limit).
WORKER_HEARTBEAT_INTERVAL_S = env.float("WORKER_HEARTBEAT_INTERVAL_S", default=10)
WORKER_STALE_AFTER_S = env.int("WORKER_STALE_AFTER_S", default=30)
JOBS_RUNNING_STALE_S = env.int("JOBS_RUNNING_STALE_S", default=CELERY_TASK_TIME_LIMIT + 60)
# Signed-in people see a banner when no worker has beaten for this long and jobs wait.
WORKER_DOWN_BANNER_AFTER_S = env.int("WORKER_DOWN_BANNER_AFTER_S", default=60)
# /healthz fails when the oldest queued job has waited longer than this.
HEALTHZ_QUEUED_AGE_LIMIT_S = env.int("HEALTHZ_QUEUED_AGE_LIMIT_S", default=600)
CELERY_TIMEZONE = TIME_ZONE

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes anonymous writes answer 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiTokenAuthentication",  # named, hashed, scoped tokens
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.permissions.GroupMemberWritePermission"],  # reads: selectors decide
    # Filters and searches through a relation match only through records the viewer may see.
    "DEFAULT_FILTER_BACKENDS": [
        "apps.accounts.filters.VisibleFilterBackend",
        "apps.accounts.filters.VisibleSearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "apps.common.api.ApiSchema",
    "EXCEPTION_HANDLER": "apps.common.api.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.common.throttling.AnonRateThrottle",  # both keep their logs in Redis when the cache is Redis
        "apps.common.throttling.MemberRateThrottle",  # UserRateThrottle for signed-in users only
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="600/hour"),
        "user": env("API_THROTTLE_USER", default="10000/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "assbdb API",
    "DESCRIPTION": "All-solid-state battery results database: separators, cells, impedance spectra, fits and benchmarks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ElectrodeKindEnum": "apps.catalog.models.Electrode.Kind",
        "CellLayerKindEnum": "apps.catalog.models.CellLayer.Kind",
        "ConductivityKindEnum": "apps.analysis.models.ConductivityKind",
        "JobKindEnum": "apps.jobs.models.Job.Kind",
        "BoundKindEnum": "apps.analysis.protocol_bounds.BOUND_KINDS",
        "FitStatusEnum": "apps.analysis.models.FitStatus",
        "SeparatorFormEnum": "apps.catalog.models.Separator.Form",
        "ArrheniusFormEnum": "apps.analysis.models.ArrheniusForm",
        "CellConfigurationEnum": "apps.catalog.models.Cell.Configuration",
        "ReleasedRecordKindEnum": "apps.releases.models.RecordKind",
    },
}

# Production hardening; `manage.py check --deploy` is clean with DEBUG=0.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# ----------------------------------------------------------------------------- Sign-in hardening and bounded requests
# One cache for what must be counted across web workers and processes: API throttles (the token
# endpoint's 20 a minute) and the DRT cache. Embedded default: a file cache under var/ (shared by every
# process on this machine, no server to run); production: e.g. CACHE_URL=redis://host:6379/1.
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "apps.common.cache.RedisCache"  # one Redis client per pool, not one per call
# Failed sign-ins (web login, admin login, API token) are counted by django-axes in the database,
# which every web worker shares, with atomic increments; LOGIN_FAILURE_LIMIT failures of one
# username from one address lock that pair for LOGIN_LOCKOUT_MINUTES after the last failure.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out username+address before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password"]

# Content-Security-Policy (django-csp): scripts and styles from this site only, no inline scripts.
# Plotly.js writes its stylesheet rules and element styles at run time, hence 'unsafe-inline' for
# styles only; data:/blob: images are Plotly's "download as PNG" and its modebar icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
}

# Bounded work per request.
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "apps.common.parsers.BoundedJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
MAX_SPECTRUM_POINTS = env.int("MAX_SPECTRUM_POINTS", default=20000)  # points of one spectrum, any path
MAX_JSON_DEPTH = env.int("MAX_JSON_DEPTH", default=32)  # nesting of an API JSON body
MAX_METADATA_DEPTH = 8  # nesting kept of a spectrum's metadata; deeper values are stored as text
MAX_METADATA_KB = 64  # a spectrum's stored metadata, as JSON
MAX_PREVIEW_STORAGE_MB = env.int("MAX_PREVIEW_STORAGE_MB", default=2048)  # all unconfirmed upload previews

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
