from django.conf import settings
from django.http import HttpRequest

from pagedesk.config import get_config


def links(request: HttpRequest) -> dict[str, object]:
    """Links every page's header needs: the sandbox phone only when it is mounted."""
    return {"sandbox_mounted": get_config().sandbox_mounted}


def workspace(request: HttpRequest) -> dict[str, object]:
    """The header's workspace switcher and language switcher."""
    from pagedesk.web.workspace import resolve

    current = getattr(request, "current", None)
    if current is None and getattr(request, "user", None) and request.user.is_authenticated:
        current = resolve(request)
    return {
        "current": current,
        "languages": settings.LANGUAGES,
        "paused_channels": _paused_channels(current),
    }


def _paused_channels(current: object) -> list[object]:
    """Owners and admins see, on every page, which of their pages cannot send and why
    (an invalid token, a restriction by Meta): it is theirs to fix."""
    if current is None or not getattr(current, "can_manage", False):
        return []
    from pagedesk.core.models import Channel

    return list(
        Channel.objects.filter(workspace=current.workspace, status=Channel.Status.PAUSED)  # type: ignore[attr-defined]
        .only("pk", "name", "status_reason")
        .order_by("name")
    )
