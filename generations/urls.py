from __future__ import annotations

from django.urls import path

from generations.views import create

urlpatterns = [
    path("", create.create, name="create"),
]
