"""A Django project in one module: settings, views and URLs, served over ASGI.

Django's settings are process-wide, so they are configured once, on import;
nothing else in the test run uses Django.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="conformance-tests-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        DATABASES={},
        USE_TZ=True,
        APPEND_SLASH=False,
    )
    django.setup()

from django.core.asgi import get_asgi_application
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path
from django.views import View
from django.views.decorators.http import require_http_methods


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from Django", content_type="text/plain")


async def article(request: HttpRequest, year: int, slug: str) -> JsonResponse:
    return JsonResponse(
        {
            "year": year,
            "slug": slug,
            "q": request.GET.get("q"),
            "path": request.path,
            "host": request.get_host(),
            "method": request.method,
        }
    )


@require_http_methods(["POST"])
def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "body": request.body.decode(),
            "content_type": request.content_type,
            "json": json.loads(request.body)
            if request.content_type == "application/json"
            else None,
        }
    )


@require_http_methods(["POST"])
def upload(request: HttpRequest) -> JsonResponse:
    files = {name: {"name": f.name, "size": f.size} for name, f in request.FILES.items()}
    return JsonResponse({"fields": dict(request.POST.items()), "files": files})


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for number in range(3):
            yield f"django chunk {number}\n".encode()
            await asyncio.sleep(0.01)

    return StreamingHttpResponse(chunks(), content_type="text/plain")


class ItemView(View):
    http_method_names = ["get", "put", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("item", content_type="text/plain")

    def put(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(b"updated:" + request.body, content_type="text/plain")


urlpatterns = [
    path("", hello),
    path("articles/<int:year>/<slug:slug>/", article),
    path("echo", echo),
    path("upload", upload),
    path("stream", stream),
    path("item", ItemView.as_view()),
]

application = get_asgi_application()
