"""Small display helpers for the inbox templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from pagedesk.core.models import Membership
from pagedesk.inbox.models import Attachment
from pagedesk.web import presenters

register = template.Library()


@register.filter
def short_time(moment: datetime | None) -> str:
    return presenters.short_time(moment)


@register.filter
def count_badge(count: int) -> str:
    """A tab's count, "999+" past the cap (``selectors.tab_counts`` stops counting there)."""
    from pagedesk.web.selectors import TAB_COUNT_CAP

    return f"{TAB_COUNT_CAP}+" if count > TAB_COUNT_CAP else str(count)


@register.filter
def inline_image(attachment: Attachment) -> bool:
    return presenters.is_inline_image(attachment)


@register.filter
def web_url(value: Any) -> str:
    """A link only when it is http(s): customer content must never become javascript:."""
    text = str(value or "")
    return text if text.lower().startswith(("https://", "http://")) else ""


@register.filter
def person(user: Any) -> str:
    return presenters.person_name(user)


@register.filter
def role_label(role: str) -> str:
    return {
        Membership.Role.OWNER: _("Owner"),
        Membership.Role.ADMIN: _("Admin"),
        Membership.Role.AGENT: _("Agent"),
    }.get(role, role)


@register.filter
def css_color(value: Any) -> str:
    return presenters.css_color(value)


@register.filter
def link_of(attachment: Attachment) -> str:
    """The http(s) link a shared or fallback attachment points at, if any."""
    payload = attachment.payload if isinstance(attachment.payload, dict) else {}
    inner = payload.get("payload") if isinstance(payload.get("payload"), dict) else {}
    for candidate in (attachment.url, payload.get("url"), inner.get("url")):
        if web_url(candidate):
            return web_url(candidate)
    return ""


@register.filter
def title_of(attachment: Attachment) -> str:
    payload = attachment.payload if isinstance(attachment.payload, dict) else {}
    inner = payload.get("payload") if isinstance(payload.get("payload"), dict) else {}
    return str(payload.get("title") or inner.get("title") or attachment.type)


def _days_format() -> str:
    # "3 d 04:05:06": days, then hours:minutes:seconds (app.js uses the same format).
    return _("%(days)s d %(time)s")


@register.simple_tag
def days_format() -> str:
    """The days part of a countdown, for app.js (``%(days)s`` and ``%(time)s``)."""
    return _days_format()


@register.filter
def time_left(moment: datetime | None) -> str:
    """Time until ``moment`` as a countdown ("5:04:03", "3 d 04:05:06"); "0:00:00" when past."""
    if moment is None:
        return ""
    seconds = max(0, int((moment - timezone.now()).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
        return _days_format() % {"days": days, "time": clock}
    return f"{hours}:{minutes:02d}:{seconds:02d}"


# The composer's emoji picker: common ones, no images (the system font draws them).
_EMOJI_LINE = "😀 😃 😄 😁 😅 😂 🙂 😉 😊 😍 😘 😎 🤔 😐 😕 😢 😭 😮 😴 🙄 "
_EMOJI_LINE += "👍 👎 👌 👏 🙏 💪 👋 🤝 ❤️ 💔 🔥 ⭐ 🎉 🎁 ✅ ❌ ⚠️ 📦 🚚 💬"
EMOJI = tuple(_EMOJI_LINE.split())


@register.simple_tag
def emoji_choices() -> tuple[str, ...]:
    return EMOJI


@register.filter
def is_future(moment: datetime | None) -> bool:
    return moment is not None and moment > timezone.now()
