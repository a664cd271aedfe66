"""Two workspaces, Acme and Globex, each holding one of every kind of row a URL can
name (conversation, attachment, member, invite, team, label, channel, persona,
canned reply, outbound upload), plus helpers to enumerate every route.

The web fixtures (``acme``, ``globex``) come from ``tests/web/conftest.py``; this file
adds the rows those lack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from pagedesk.core.models import Invite, Membership
from pagedesk.delivery.models import Persona
from pagedesk.web.models import CannedReply, OutboundUpload
from tests.web.conftest import Side, acme, globex  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def quick_password_hashing(settings: Any) -> None:
    """Hundreds of sign-ins and accounts here: a fast hasher keeps the folder quick.
    (What is tested is who may do what, not how passwords are hashed.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Extras:
    """Rows of one side that the web fixtures do not make."""

    agent_membership: Membership
    invite: Invite
    persona: Persona
    canned: CannedReply
    upload: OutboundUpload


def add_extras(side: Side) -> Extras:
    slug = side.workspace.slug
    upload = OutboundUpload(
        workspace=side.workspace,
        token=f"upload-token-of-{slug}-0123456789",
        name="menu.pdf",
        content_type="application/pdf",
        size=8,
    )
    upload.file.save("menu.pdf", ContentFile(b"%PDF-1.4"), save=False)
    upload.save()
    return Extras(
        agent_membership=Membership.objects.get(workspace=side.workspace, user=side.agent),
        invite=Invite.objects.create(
            workspace=side.workspace,
            email=f"newcomer@{slug}.test",
            token_hash=f"{slug:0<64}"[:64],
            expires_at=timezone.now() + timedelta(days=7),
        ),
        persona=Persona.objects.create(
            workspace=side.workspace,
            channel=side.channel,
            user=side.agent,
            persona_id=f"persona-{slug}",
            name=f"Agent of {slug}",
        ),
        canned=CannedReply.objects.create(
            workspace=side.workspace, shortcut="hours", text=f"Open 9-5 at {slug}"
        ),
        upload=upload,
    )


@dataclass
class World:
    a: Side
    b: Side
    a_extra: Extras
    b_extra: Extras


@pytest.fixture
def world(acme: Side, globex: Side) -> Iterator[World]:  # noqa: F811
    yield World(a=acme, b=globex, a_extra=add_extras(acme), b_extra=add_extras(globex))


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on an HTML page (as a browser would send it)."""
    marker = 'name="csrfmiddlewaretoken" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


# --- enumerating routes ---------------------------------------------------------------


def django_routes() -> dict[str, str]:
    """Every named URL pattern of pagedesk's own views: ``name → route``.

    Django's admin (``/admin/``, staff only, Django's own permission system) and the
    REST API (enumerated from its OpenAPI schema, see :func:`api_operations`) are left
    out here.
    """
    found: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if "admin" in (pattern.app_name, pattern.namespace) or pattern.namespace == "api":
                    continue
                inner = f"{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                assert pattern.name, f"unnamed URL pattern {prefix}{pattern.pattern}"
                found[namespace + pattern.name] = prefix + str(pattern.pattern)

    walk(get_resolver().url_patterns, "", "")
    return found


def api_operations() -> set[str]:
    """Every REST API operation as ``"METHOD /api/v1/path/{param}"``."""
    from pagedesk.api.api import api

    schema = api.get_openapi_schema()
    return {
        f"{method.upper()} {path}"
        for path, methods in schema["paths"].items()
        for method in methods
    }
