"""Minimal Django settings for Anymail's test suite."""

SECRET_KEY = "not-a-secret-test-only"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "anymail",
]
DATABASES = {}
ROOT_URLCONF = "tests.urls"
USE_TZ = True
TIME_ZONE = "UTC"
EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
DEFAULT_FROM_EMAIL = "from@example.com"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
MIDDLEWARE = []
