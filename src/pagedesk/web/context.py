from django.http import HttpRequest

from pagedesk.config import get_config


def links(request: HttpRequest) -> dict[str, object]:
    """Links every page's header needs: the sandbox phone only when it is mounted."""
    return {"sandbox_mounted": get_config().sandbox_mounted}
