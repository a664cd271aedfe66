"""Parse a Messenger / Instagram webhook body into typed events.

``parse_webhook(body)`` takes the raw request body (check its signature first, see
``signature.verify_signature``) and returns a :class:`WebhookBatch`; iterating it
yields every event of every entry in order. A body that is not a webhook raises
:class:`WebhookParseError`, the only exception it raises. Events and attachments of
kinds pagedesk does not know are not errors: they come back as ``unsupported``
events that keep the raw JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, TypeAlias, TypeVar, cast, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from pagedesk.messenger.events import (
    AppRoles,
    Delivery,
    EventKind,
    EventPayload,
    FeedComment,
    Id,
    InstagramComment,
    Message,
    MessageEdit,
    Millis,
    Optin,
    Party,
    PolicyEnforcement,
    Postback,
    Reaction,
    Read,
    Referral,
    ThreadControl,
    UnsupportedEvent,
    WebhookEvent,
    WebhookObject,
)
from pagedesk.messenger.storable import may_need_cleaning, storable_json

ParseErrorCode = Literal[
    "invalid_json",  # not JSON at all
    "invalid_envelope",  # JSON, but not {"object": ..., "entry": [...]}
    "unsupported_object",  # a webhook for another product (e.g. "user", "whatsapp...")
    "invalid_entry",  # an entry without id, or whose event lists are not lists
    "invalid_event",  # an event of a known kind with fields of the wrong shape
]


class WebhookParseError(ValueError):
    """The body is not a well-formed Messenger / Instagram webhook.

    ``code`` is stable (see :data:`ParseErrorCode`); ``path`` locates the problem in
    the body, e.g. ``entry[0].messaging[2].timestamp``.
    """

    def __init__(self, code: ParseErrorCode, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.code: ParseErrorCode = code
        self.path = path


@dataclass(frozen=True, slots=True)
class WebhookEntry:
    """One ``entry``: the events of one page (or Instagram account) in this delivery."""

    id: str
    time: int | None
    events: tuple[WebhookEvent, ...]
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    """A parsed webhook delivery. Iterate it for all events, entries in order."""

    object: WebhookObject
    entries: tuple[WebhookEntry, ...]
    raw: dict[str, Any]

    def __iter__(self) -> Iterator[WebhookEvent]:
        for entry in self.entries:
            yield from entry.events

    def __len__(self) -> int:
        return sum(len(entry.events) for entry in self.entries)

    @property
    def events(self) -> list[WebhookEvent]:
        return list(self)


def parse_webhook(body: bytes) -> WebhookBatch:
    """Parse a webhook request body; raise :class:`WebhookParseError` if it is malformed."""
    document = _decode_json(body)
    if not isinstance(document, dict):
        _fail("invalid_envelope", f"expected a JSON object, got {_json_type(document)}")
    obj = document.get("object")
    if obj is None:
        _fail("invalid_envelope", 'missing "object" (expected "page" or "instagram")')
    if obj not in get_args(WebhookObject):
        _fail(
            "unsupported_object",
            f'"object" is {_short_repr(obj)}; only "page" and "instagram" webhooks are handled',
        )
    entries = document.get("entry")
    if not isinstance(entries, list):
        problem = "missing" if entries is None else _json_type(entries)
        _fail("invalid_envelope", f'"entry" must be a list, but is {problem}')
    return WebhookBatch(
        object=obj,
        entries=tuple(_parse_entry(obj, e, f"entry[{i}]") for i, e in enumerate(entries)),
        raw=document,
    )


# --- envelope ----------------------------------------------------------------------


def _decode_json(body: bytes) -> Any:
    if not body:
        _fail("invalid_json", "body is empty")
    try:
        # JSON between systems is UTF-8 (RFC 8259); strict decoding also refuses
        # surrogates written as UTF-8, which ``json.loads(bytes)`` would let through.
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        return storable_json(document) if may_need_cleaning(body) else document
    except RecursionError:
        raise WebhookParseError(
            "invalid_json", "body is nested too deeply to be a webhook"
        ) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge integers
        raise WebhookParseError("invalid_json", f"body is not valid JSON: {exc}") from None


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_entry(obj: WebhookObject, entry: Any, path: str) -> WebhookEntry:
    if not isinstance(entry, dict):
        _fail("invalid_entry", f"expected an object, got {_json_type(entry)}", path)
    header = _validate(_EntryHeader, entry, path, "invalid_entry")
    page_id = header.id
    events: list[WebhookEvent] = []
    for source in ("messaging", "standby"):
        for i, item in enumerate(_event_list(entry, source, path)):
            events.append(
                _parse_messaging_event(
                    obj, page_id, item, is_standby=source == "standby", path=f"{path}.{source}[{i}]"
                )
            )
    changes = _event_list(entry, "changes", path)
    if not changes and "field" in entry and "value" in entry:
        # Meta's Instagram examples also show a single change placed on the entry itself.
        changes = [{"field": entry["field"], "value": entry["value"]}]
    for i, change in enumerate(changes):
        events.append(_parse_change(obj, page_id, change, f"{path}.changes[{i}]"))
    return WebhookEntry(id=page_id, time=header.time, events=tuple(events), raw=entry)


def _event_list(entry: dict[str, Any], key: str, path: str) -> list[Any]:
    items = entry.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        _fail("invalid_entry", f"expected a list, got {_json_type(items)}", f"{path}.{key}")
    return items


class _EntryHeader(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Id
    time: Millis | None = None


# --- messaging / standby events ----------------------------------------------------


class _EventHeader(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sender: Party | None = None
    recipient: Party | None = None
    timestamp: Millis | None = None


def _message_kind(message: Message) -> EventKind:
    if message.is_echo:
        return EventKind.ECHO
    if message.is_deleted:
        return EventKind.MESSAGE_DELETE
    return EventKind.MESSAGE


# Event key -> payload model and kind (or how to tell it from the payload), tried in
# this order: the first key present wins.
_KindOf = EventKind | Callable[[Any], EventKind]
_MESSAGING_KINDS: tuple[tuple[str, type[BaseModel], _KindOf], ...] = (
    ("message", Message, _message_kind),
    ("postback", Postback, EventKind.POSTBACK),
    ("referral", Referral, EventKind.REFERRAL),
    ("delivery", Delivery, EventKind.DELIVERY),
    ("read", Read, EventKind.READ),
    ("reaction", Reaction, EventKind.REACTION),
    ("optin", Optin, EventKind.OPTIN),
    ("pass_thread_control", ThreadControl, EventKind.PASS_THREAD_CONTROL),
    ("take_thread_control", ThreadControl, EventKind.TAKE_THREAD_CONTROL),
    ("request_thread_control", ThreadControl, EventKind.REQUEST_THREAD_CONTROL),
    ("app_roles", AppRoles, EventKind.APP_ROLES),
    ("policy_enforcement", PolicyEnforcement, EventKind.POLICY_ENFORCEMENT),
    ("policy-enforcement", PolicyEnforcement, EventKind.POLICY_ENFORCEMENT),  # hyphenated too
    ("message_edit", MessageEdit, EventKind.MESSAGE_EDIT),
)

# Keys every messaging event has; any other key names the event's kind.
_HEADER_KEYS = frozenset({"sender", "recipient", "timestamp"})


def _parse_messaging_event(
    obj: WebhookObject, page_id: str, item: Any, *, is_standby: bool, path: str
) -> WebhookEvent:
    if not isinstance(item, dict):
        _fail("invalid_event", f"expected an object, got {_json_type(item)}", path)
    header = _validate(_EventHeader, item, path)
    payload: EventPayload
    for key, model, kind_of in _MESSAGING_KINDS:
        if key in item:
            payload = cast(EventPayload, _validate(model, item[key], f"{path}.{key}"))
            kind = kind_of(payload) if callable(kind_of) else kind_of
            break
    else:
        unknown_key = next((k for k in item if k not in _HEADER_KEYS), None)
        payload = UnsupportedEvent(key=unknown_key, raw=item)
        kind = EventKind.UNSUPPORTED
    return WebhookEvent(
        kind=kind,
        page_id=page_id,
        payload=payload,
        raw=item,
        object=obj,
        is_standby=is_standby,
        sender_id=header.sender.id if header.sender else None,
        recipient_id=header.recipient.id if header.recipient else None,
        timestamp=header.timestamp,
    )


# --- changes (comments) ------------------------------------------------------------

_COMMENT_FIELDS: dict[str, type[FeedComment] | type[InstagramComment]] = {
    "comments": InstagramComment,
    "live_comments": InstagramComment,
}


def _parse_change(obj: WebhookObject, page_id: str, change: Any, path: str) -> WebhookEvent:
    if not isinstance(change, dict):
        _fail("invalid_event", f"expected an object, got {_json_type(change)}", path)
    field, value = change.get("field"), change.get("value")
    model: type[FeedComment] | type[InstagramComment] | None = None
    if isinstance(value, dict):
        if field == "feed" and value.get("item") == "comment":
            model = FeedComment
        elif isinstance(field, str):
            model = _COMMENT_FIELDS.get(field)
    if model is None:
        # Other feed items (posts, reactions...) and other fields are not modelled.
        return WebhookEvent(
            kind=EventKind.UNSUPPORTED,
            page_id=page_id,
            payload=UnsupportedEvent(key=field if isinstance(field, str) else None, raw=change),
            raw=change,
            object=obj,
        )
    comment = _validate(model, value, f"{path}.value")
    created = comment.created_time if isinstance(comment, FeedComment) else None
    return WebhookEvent(
        kind=EventKind.COMMENT,
        page_id=page_id,
        payload=comment,
        raw=change,
        object=obj,
        sender_id=comment.from_.id if comment.from_ else None,
        timestamp=created * 1000 if created is not None else None,
    )


# --- helpers -----------------------------------------------------------------------

ModelT = TypeVar("ModelT", bound=BaseModel)


def _validate(
    model: type[ModelT], data: Any, path: str, code: ParseErrorCode = "invalid_event"
) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        first = errors[0]
        message = first["msg"]
        if first["type"] != "missing":
            message += f" (got {_json_type(first['input'])})"
        if len(errors) > 1:
            message += f"; {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''}"
        _fail(code, message, path + _loc_path(first["loc"]))


def _loc_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif i >= 2 and loc[i - 2] == "attachments" and isinstance(loc[i - 1], int):
            continue  # the attachment union's tag (which model was tried), not a field
        else:
            parts.append(f".{part}")
    return "".join(parts)


def _fail(code: ParseErrorCode, message: str, path: str | None = None) -> NoReturn:
    raise WebhookParseError(code, message, path=path)


def _json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "an object"
    return type(value).__name__


def _short_repr(value: Any) -> str:
    if not isinstance(value, str):
        return _json_type(value)
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + '..."'


# --- one stored event ----------------------------------------------------------------

EventContainer: TypeAlias = Literal["messaging", "standby", "changes"]


def container_of(event: WebhookEvent) -> EventContainer:
    """Which list of its entry an event came from (to store it and parse it again)."""
    if event.is_standby:
        return "standby"
    if "field" in event.raw and "value" in event.raw:
        return "changes"
    return "messaging"


def parse_event(
    obj: WebhookObject, page_id: str, raw: dict[str, Any], *, container: EventContainer
) -> WebhookEvent:
    """Parse one event stored on its own (as ``event.raw``) back into a WebhookEvent."""
    if container == "changes":
        return _parse_change(obj, page_id, raw, "changes[0]")
    return _parse_messaging_event(
        obj, page_id, raw, is_standby=container == "standby", path=f"{container}[0]"
    )
