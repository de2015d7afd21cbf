"""The demo project's URLs: only Anymail's webhooks."""

from django.urls import include, path

urlpatterns = [
    path("anymail/", include("anymail.urls")),
]
