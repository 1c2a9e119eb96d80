"""Settings, read from the environment.

Every setting that differs between a laptop and a server comes from an environment variable
through one of the small helpers below. A bad value stops start-up with a sentence that names
the variable and says why; the defaults are the embedded ones (SQLite, django-q2's ORM broker,
the sandbox) so that `make run` works on a fresh clone.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STUDIO_VAR_DIR") or BASE_DIR / "var")
# var/ holds the database (sessions, password hashes), the secret key and private results: only
# this user may read it. Files the studio's processes make are theirs alone (umask), and a var/
# left readable by an older version is closed again.
os.umask(0o077)
VAR_DIR.mkdir(parents=True, exist_ok=True)
if VAR_DIR.stat().st_mode & 0o077 and VAR_DIR.stat().st_uid == os.getuid():
    VAR_DIR.chmod(0o700)
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str = "", *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    raw = env_str(name, default)
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.netloc:
        allowed = " or ".join(f"{s}://" for s in schemes)
        raise ImproperlyConfigured(f"{name} must be a URL starting with {allowed}, not {raw!r}.")
    return raw.rstrip("/")


def _read_version() -> str:
    with open(BASE_DIR / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def _local_secret_key() -> str:
    """A key generated once and kept in var/, so sessions survive restarts of `make run`."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def database_config(url: str) -> dict:
    """The DATABASES entry for a database URL (also used by manage.py move_studio)."""
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except Exception as e:  # dj-database-url raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Django knows: {e}") from e
    engine = config.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        # WAL lets the web server read while the worker writes; IMMEDIATE transactions and a
        # busy timeout make writers queue for the lock instead of failing "database is locked".
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
        # Tests get a database file too (not shared-cache memory, whose table locks fail at
        # once instead of waiting): threads of the poller then behave as they do in production.
        config["TEST"] = {"NAME": str(VAR_DIR / "test-studio.sqlite3")}
    elif engine.endswith("postgresql"):
        config["CONN_HEALTH_CHECKS"] = True
        # Under ASGI Django opens a connection per request unless a pool lends them: with
        # DATABASE_POOL_SIZE each process keeps up to that many open (psycopg's pool).
        pool_size = env_int("DATABASE_POOL_SIZE", 0)
        if pool_size:
            config["OPTIONS"] = {"pool": {"min_size": 1, "max_size": pool_size, "timeout": 10}}
    else:
        raise ImproperlyConfigured(
            f"DATABASE_URL must point at SQLite or PostgreSQL; {engine!r} is not supported."
        )
    return config


VERSION = _read_version()
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (make run sets DEBUG=1 and keeps a "
            "generated key in var/secret_key)."
        )
    SECRET_KEY = _local_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries must start with http:// or https://, not {_origin!r}."
        )

# The address at which the upstream (and browsers) can reach this studio; needed for callbacks
# and for handing uploaded files to the real service as signed URLs.
STUDIO_PUBLIC_URL = env_url("STUDIO_PUBLIC_URL")
# Whether the upstream can open links to this studio (callbacks, uploads handed over as links):
# "auto" (the sandbox always can; the real service when STUDIO_PUBLIC_URL is a public address),
# "yes" (a tunnel or firewall rule lets it through to a private address) or "no".
STUDIO_REACHABLE = env_str("STUDIO_REACHABLE", "auto").lower()
if STUDIO_REACHABLE not in ("auto", "yes", "no"):
    raise ImproperlyConfigured("STUDIO_REACHABLE must be auto, yes or no.")

# The upstream. Without an API key the studio talks to its local sandbox emulator.
APIINONE_API_KEY = env_str("APIINONE_API_KEY")
SANDBOX_PORT = env_int("SANDBOX_PORT", 8001, minimum=1)
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}/api/v1"
# Where calls with a key go; a workspace without a key (and no APIINONE_API_KEY) uses the sandbox.
APIINONE_BASE_URL = env_url("APIINONE_BASE_URL") or "https://apiin.one/api/v1"
USES_SANDBOX = not APIINONE_API_KEY  # for the whole studio; a workspace's own key overrides it
# The sandbox emulator (generations/sandbox/): the key the studio uses with it, and its knobs.
SANDBOX_API_KEY = "aio_sandbox_studio_key"
SANDBOX = {
    "speed": env_float("SANDBOX_SPEED", 1.0),
    "url_ttl": env_float("SANDBOX_URL_TTL", 3600.0, minimum=1.0),
    "rate_limit": env_int("SANDBOX_RATE_LIMIT", 60, minimum=1),
    "starting_balance": env_int("SANDBOX_STARTING_BALANCE", 100_000),
    "failure_rate": env_float("SANDBOX_FAILURE_RATE", 0.0),
    "error_rate": env_float("SANDBOX_ERROR_RATE", 0.0),
    "lost_rate": env_float("SANDBOX_LOST_RATE", 0.0),
    "slow_rate": env_float("SANDBOX_SLOW_RATE", 0.0),
    # The field (see SandboxConfig): results under a second host name, as on a CDN; callbacks
    # that never arrive; real durations off the catalog's by a factor the studio is not told.
    "files_host": env_str("SANDBOX_FILES_HOST", "localhost"),
    "deliver_callbacks": env_bool("SANDBOX_DELIVER_CALLBACKS", True),
    "drift": env_float("SANDBOX_DRIFT", 1.0),
}
# Requests per minute the studio allows itself per upstream key (the service's documented limit).
APIINONE_RATE_LIMIT = env_int("APIINONE_RATE_LIMIT", 60, minimum=1)


# The keys that encrypt each workspace's stored API in One key (see studio/secrets.py): a
# comma-separated list of Fernet keys, newest first. Everything is encrypted with the first;
# every key in the list can decrypt, and `manage.py rotate_keys` re-encrypts all stored values
# with the first, after which the older keys may be dropped. Unset, one key is derived from
# SECRET_KEY so that `make run` needs no setup; a server that stores keys should set it, since
# a changed SECRET_KEY would otherwise make every stored key unreadable.
def env_fernet_keys(name: str, secret_key: str) -> list[str]:
    """The Fernet keys in variable `name`, newest first; one derived from `secret_key` if none."""
    import base64

    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    keys = []
    for position, item in enumerate(os.environ.get(name, "").split(","), start=1):
        key = item.strip()
        if not key:
            continue
        try:
            Fernet(key)
        except (ValueError, TypeError):  # never echo the key itself
            raise ImproperlyConfigured(
                f"{name} must be a comma-separated list of Fernet keys (32 url-safe "
                f"base64-encoded bytes each), but the key in position {position} is not one; "
                "make a new key with cryptography.fernet.Fernet.generate_key()."
            ) from None
        keys.append(key)
    if keys:
        return keys
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"apiinone-studio/encryption-key/v1"
    ).derive(secret_key.encode())
    return [base64.urlsafe_b64encode(derived).decode()]


STUDIO_ENCRYPTION_KEYS = env_fernet_keys("STUDIO_ENCRYPTION_KEYS", SECRET_KEY)

APIINONE_RATE_WINDOW = env_float("APIINONE_RATE_WINDOW", 60.0, minimum=1.0)
# Private hosts result files may be downloaded from (any public host may; the API's own host,
# the sandbox's and their subdomains always may): an in-house CDN or emulator, by name.
APIINONE_RESULT_HOSTS = env_list("APIINONE_RESULT_HOSTS", [])
# The shortest gap between two look-ups of one running job (see generations/pacing.py).
STUDIO_POLL_FLOOR = env_float("STUDIO_POLL_FLOOR", 2.0, minimum=0.05)
# Threads of the poller that download finished jobs' results, so that a slow download never
# holds up the look-ups of other jobs (0: the poller keeps them itself, one after the other).
STUDIO_RESULT_KEEPERS = env_int("STUDIO_RESULT_KEEPERS", 4)
# Pollers that may run at once (each a qcluster task: one per worker host is usual; each host
# needs Q_WORKERS above its pollers, for the jobs' sends), and each poller's look-up threads
# (0: one look-up after the other). See generations/poller.py.
STUDIO_POLLERS = env_int("STUDIO_POLLERS", 1, minimum=1)
STUDIO_POLL_THREADS = env_int("STUDIO_POLL_THREADS", 16)
# Results deleted in the gallery can be restored (Undo) until this many days have passed; then
# the sweep removes their files from storage (their records and costs stay).
STUDIO_DELETED_RETENTION_DAYS = env_int("STUDIO_DELETED_RETENTION_DAYS", 30)
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 50 * 1024 * 1024, minimum=1024)
# One request carries at most this much (all its files together; see studio/bodylimit.py); who
# is not signed in, far less (log-in, sign-up, callbacks).
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", MAX_UPLOAD_BYTES + 1024 * 1024, minimum=1024)
MAX_ANONYMOUS_REQUEST_BYTES = env_int("MAX_ANONYMOUS_REQUEST_BYTES", 256 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's default, said here: form fields, not files
# No image above this many pixels is decoded, anywhere (uploads, results' previews, the
# sandbox's tools): a small file can claim a huge picture (a "pixel bomb").
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 50_000_000, minimum=1_000_000)
MAX_RESULT_BYTES = env_int("MAX_RESULT_BYTES", 500 * 1024 * 1024, minimum=1024)

# -- who may come in, and how often ------------------------------------------------------------
# Reverse proxies in front of the studio (each adds one X-Forwarded-For entry): the client's
# address, for throttles and logs, is the one the nearest trusted proxy saw. 0: REMOTE_ADDR.
STUDIO_TRUSTED_PROXIES = env_int("STUDIO_TRUSTED_PROXIES", 0)
# Anyone may create an account (on with DEBUG, for `make run`); off, only someone holding an
# invitation link signs up: the default for a server.
STUDIO_OPEN_SIGNUP = env_bool("STUDIO_OPEN_SIGNUP", DEBUG)
STUDIO_SIGNUPS_PER_HOUR = env_int("STUDIO_SIGNUPS_PER_HOUR", 20, minimum=1)  # per address
STUDIO_RESETS_PER_HOUR = env_int("STUDIO_RESETS_PER_HOUR", 5, minimum=1)  # per address and email
STUDIO_KEY_CHECKS_PER_HOUR = env_int("STUDIO_KEY_CHECKS_PER_HOUR", 10, minimum=1)  # per ws, user
# Logins (django-axes): after this many failures in a row for one account, or from one address,
# that account or address waits STUDIO_LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env_int("STUDIO_LOGIN_FAILURES", 10, minimum=1)
STUDIO_LOGIN_LOCKOUT_MINUTES = env_int("STUDIO_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=STUDIO_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "studio.access.axes_client_ip"
AXES_LOCKOUT_CALLABLE = "studio.views.accounts.locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # the studio logs sign-ins itself (studio/signals.py), with the address
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Email (password resets): printed to the console unless EMAIL_HOST names an SMTP server.
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "API in One Studio <studio@localhost>")
# Owners and admins get an email when a job waits for their approval: on when EMAIL_HOST is set.
STUDIO_APPROVAL_EMAILS = env_bool("STUDIO_APPROVAL_EMAILS", bool(EMAIL_HOST))

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
    "django_q",
    "axes",
    "studio",
    "generations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "studio.middleware.CompressPagesMiddleware",  # pages only; whitenoise serves static .gz
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "studio.middleware.PermissionsPolicyMiddleware",
    "studio.middleware.HtmxVaryMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "studio.middleware.HtmxLoginRedirectMiddleware",
    "studio.middleware.WorkspaceMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a lockout into the page that says so
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"
ASGI_APPLICATION = "studio.asgi.application"

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
                "studio.context_processors.studio",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'studio.sqlite3'}")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "create"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Media (results, previews, uploads) in S3-compatible object storage instead of VAR_DIR/media:
# set the bucket; the endpoint for anything but AWS (MinIO, R2, a local server); the keys come
# from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the machine's role) as boto3 reads them.
# Objects stay private: browsers get them through the studio's access checks, and the upstream
# gets inputs as presigned links of the store (so uploads work even when the studio itself
# cannot be reached from the internet).
STUDIO_S3_BUCKET = env_str("STUDIO_S3_BUCKET")
STUDIO_S3_ENDPOINT_URL = env_url("STUDIO_S3_ENDPOINT_URL")
STUDIO_S3_REGION = env_str("STUDIO_S3_REGION", "us-east-1")


def s3_storage(bucket: str, endpoint: str = "", region: str = "us-east-1") -> dict:
    """The default storage in a bucket: private objects, presigned URLs, never overwritten."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint or None,
            "region_name": region,
            "default_acl": None,  # the bucket's own (private) policy: never public-read
            "querystring_auth": True,  # any URL of the store is presigned
            "querystring_expire": 24 * 3600,
            "file_overwrite": False,
            "signature_version": "s3v4",
            "addressing_style": "path" if endpoint else None,
        },
    }


if STUDIO_S3_BUCKET:
    STORAGES["default"] = s3_storage(STUDIO_S3_BUCKET, STUDIO_S3_ENDPOINT_URL, STUDIO_S3_REGION)

REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))

# At-least-once delivery: a task not acknowledged within `retry` seconds is handed out again, so
# `timeout` (when a worker is killed) must be shorter than `retry`, or one job runs twice at once.
# Every task is written to be safe to run twice anyway. Failed tasks are kept for inspection.
Q_CLUSTER = {
    # Processes sharing one broker must share this name; separate deployments must not.
    "name": env_str("Q_CLUSTER_NAME", "studio"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 5,
    "ack_failures": True,
    "save_limit": 250,
    "catch_up": False,
    "poll": 0.2,
    "label": "Background tasks",
}
if env_bool("Q_SYNC", False):  # tasks run inline, in the caller (the test suite uses this)
    Q_CLUSTER["sync"] = True
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    # Several web processes share one cache: sessions are read from it (written through to the
    # database, so a Redis restart only costs a read), one query less on every request.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL, "KEY_PREFIX": Q_CLUSTER["name"]}}  # fmt: skip
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    Q_CLUSTER["orm"] = "default"

# Pages run only the studio's own scripts and styles (static/, htmx from django-htmx): no inline
# script or style, no eval, no framing, no plugins; stored files have a stricter one of their own
# (generations/filetypes.FILE_CSP).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Browser features no page of the studio uses, switched off for every page.
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "magnetometer=(), gyroscope=(), accelerometer=(), display-capture=()"
)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and STUDIO_PUBLIC_URL.startswith("https://"):
    # Served over HTTPS: cookies never go over plain HTTP, and browsers remember to use HTTPS.
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    # Whether HSTS covers sibling subdomains or goes on the browsers' preload list is the domain
    # owner's choice (a studio on one subdomain of a company's domain must not decide it for
    # the others): off unless set, and `check --deploy` is not asked to nag about it.
    SILENCED_SYSTEM_CHECKS = [
        *(() if SECURE_HSTS_INCLUDE_SUBDOMAINS else ("security.W005",)),
        *(() if SECURE_HSTS_PRELOAD else ("security.W021",)),
    ]
    # TLS ends at the reverse proxy in front of the studio; it says the scheme in this header
    # (set STUDIO_PROXY_SSL_HEADER empty when the studio itself terminates TLS). Plain HTTP is
    # redirected to HTTPS, except /healthz, which load balancers ask over plain HTTP.
    _proxy_header = env_str("STUDIO_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Log lines: one JSON object a line on a server (LOG_FORMAT=json, the default when DEBUG is off),
# plain text on a laptop; either way the job a line is about is named on it (studio/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json").lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "studio.logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "studio.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # studio.auth logs each sign-in, with its address
    },
}
# No API key ever reaches a log line, whatever logged it.
LOGGING["filters"] = {
    "redact_secrets": {"()": "studio.secrets.RedactSecrets"},
    "job": {"()": "studio.logs.JobContext"},
}
LOGGING["handlers"]["console"]["filters"] = ["redact_secrets", "job"]
