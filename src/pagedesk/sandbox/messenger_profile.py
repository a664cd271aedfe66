"""``/me/messenger_profile``: validate and store a page's Messenger profile settings."""

from __future__ import annotations

from typing import Any

from pagedesk.sandbox import errors
from pagedesk.sandbox.models import Page
from pagedesk.sandbox.validation import MAX_PAYLOAD, check_url

PROFILE_FIELDS = (
    "get_started",
    "greeting",
    "ice_breakers",
    "persistent_menu",
    "whitelisted_domains",
)
MAX_GREETING = 160
MAX_ICE_BREAKERS = 4
MAX_MENU_ITEMS = 20
MAX_DOMAINS = 50


def _list_of_dicts(value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise errors.param(f"Param {name} must be an array of objects")
    return value


def _validate_get_started(value: Any) -> None:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("payload"), str)
        or not value["payload"]
    ):
        raise errors.param("param get_started[payload] must be a non-empty UTF-8 encoded string")
    if len(value["payload"]) > MAX_PAYLOAD:
        raise errors.param(
            f"Length of param get_started[payload] must be less than or equal to {MAX_PAYLOAD}"
        )


def _validate_greeting(value: Any) -> None:
    greetings = _list_of_dicts(value, "greeting")
    locales = set()
    for index, greeting in enumerate(greetings):
        text = greeting.get("text")
        if not isinstance(text, str) or not text:
            raise errors.param(f"param greeting[{index}][text] must be a non-empty string")
        if len(text) > MAX_GREETING:
            raise errors.param(
                f"Length of param greeting[{index}][text] must be less than or equal to "
                f"{MAX_GREETING}"
            )
        locales.add(greeting.get("locale"))
    if "default" not in locales:
        raise errors.param('greeting must include an entry with locale "default"')


def _validate_ice_breakers(value: Any) -> None:
    items = _list_of_dicts(value, "ice_breakers")
    # Current format: [{"locale", "call_to_actions": [...]}]; legacy: [{"question", "payload"}].
    groups = [item["call_to_actions"] for item in items if "call_to_actions" in item] or [items]
    for group in groups:
        questions = _list_of_dicts(group, "ice_breakers[call_to_actions]")
        if len(questions) > MAX_ICE_BREAKERS:
            raise errors.param(
                f"ice_breakers can have at most {MAX_ICE_BREAKERS} questions per locale"
            )
        for question in questions:
            if not question.get("question") or not question.get("payload"):
                raise errors.param("Each ice breaker needs a question and a payload")


def _validate_menu(value: Any, page: Page, incoming: dict[str, Any]) -> None:
    menus = _list_of_dicts(value, "persistent_menu")
    if not (incoming.get("get_started") or page.messenger_profile.get("get_started")):
        raise errors.param(
            "You must set a Get Started button if you also wish to use persistent menu."
        )
    for menu in menus:
        actions = menu.get("call_to_actions", [])
        if not menu.get("composer_input_disabled") and not actions:
            raise errors.param("persistent_menu[call_to_actions] is required")
        if len(_list_of_dicts(actions, "persistent_menu[call_to_actions]")) > MAX_MENU_ITEMS:
            raise errors.param(f"persistent_menu can have at most {MAX_MENU_ITEMS} items")
        for action in actions:
            if action.get("type") not in ("postback", "web_url"):
                raise errors.param("persistent_menu items must be of type postback or web_url")
            if not action.get("title"):
                raise errors.param("persistent_menu items need a title")


def _validate_domains(value: Any) -> None:
    if not isinstance(value, list) or len(value) > MAX_DOMAINS:
        raise errors.param(f"whitelisted_domains must be an array of at most {MAX_DOMAINS} URLs")
    for domain in value:
        url = check_url(domain, "whitelisted_domains")
        if not url.startswith("https://"):
            raise errors.param("whitelisted_domains must be https URLs")


def set_profile(page: Page, params: dict[str, Any]) -> dict[str, Any]:
    incoming = {key: params[key] for key in PROFILE_FIELDS if key in params}
    if not incoming:
        raise errors.param(f"Requires one of the params: {', '.join(PROFILE_FIELDS)}")
    if "get_started" in incoming:
        _validate_get_started(incoming["get_started"])
    if "greeting" in incoming:
        _validate_greeting(incoming["greeting"])
    if "ice_breakers" in incoming:
        _validate_ice_breakers(incoming["ice_breakers"])
    if "persistent_menu" in incoming:
        _validate_menu(incoming["persistent_menu"], page, incoming)
    if "whitelisted_domains" in incoming:
        _validate_domains(incoming["whitelisted_domains"])
    page.messenger_profile.update(incoming)
    return {"result": "success"}


def _fields(params: dict[str, Any]) -> list[str]:
    raw = params.get("fields")
    if isinstance(raw, str):
        fields = [item.strip() for item in raw.split(",") if item.strip()]
    elif isinstance(raw, list):
        fields = [str(item) for item in raw]
    else:
        fields = []
    if not fields:
        raise errors.param("The parameter fields is required")
    for field_name in fields:
        if field_name not in PROFILE_FIELDS:
            raise errors.param(
                f"Param fields[{field_name}] must be one of {{{', '.join(PROFILE_FIELDS)}}}"
            )
    return fields


def get_profile(page: Page, params: dict[str, Any]) -> dict[str, Any]:
    fields = _fields(params)
    found = {key: page.messenger_profile[key] for key in fields if key in page.messenger_profile}
    return {"data": [found] if found else []}


def delete_profile(page: Page, params: dict[str, Any]) -> dict[str, Any]:
    fields = _fields(params)
    if (
        "get_started" in fields
        and "persistent_menu" not in fields
        and page.messenger_profile.get("persistent_menu")
    ):
        raise errors.param(
            "You must delete the persistent menu before deleting the Get Started button."
        )
    for key in fields:
        page.messenger_profile.pop(key, None)
    return {"result": "success"}
