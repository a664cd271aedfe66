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
    }
