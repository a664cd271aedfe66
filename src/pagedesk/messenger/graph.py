"""An async client for the Messenger part of the Graph API.

Every call goes to ``{base_url}/{version}/{path}`` with the token as the
``access_token`` query parameter (as Meta documents it) and, when an app secret is
configured, ``appsecret_proof``. Failures become :mod:`pagedesk.messenger.errors`
classes; retryable ones (rate limits, temporary errors, time-outs) are retried with
exponential backoff and full jitter inside a time budget. Tokens never appear in
exception text or in the ``httpx`` request log.

Retrying a send after a time-out can deliver a message twice: the Send API has no
idempotency key. The budget keeps that window short; the echo's ``metadata`` lets
the ingest side recognise duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Annotated, Any, Literal, Self, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from pagedesk.messenger.errors import (
    REDACTED,
    GraphError,
    TemporaryError,
    error_from_response,
    redact,
)
from pagedesk.messenger.send import (
    Message,
    MessagingType,
    Payload,
    Recipient,
    SenderAction,
    SendRequest,
    SendResult,
    Url,
)

__all__ = [
    "GetStarted",
    "GraphClient",
    "Greeting",
    "IceBreaker",
    "LocalizedIceBreakers",
    "MenuItem",
    "MessengerProfile",
    "PersistentMenu",
    "Persona",
    "RetryPolicy",
    "TokenInfo",
    "UserProfile",
    "appsecret_proof",
]

DEFAULT_PROFILE_FIELDS = ("first_name", "last_name", "profile_pic", "locale", "timezone")
PERSONA_NAME_MAX = 50
_MAX_PAGES = 1000  # stop following cursors after this many pages, whatever Meta says


# --- retry policy ---------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for retryable errors: full-jitter exponential, within a time budget.

    Attempt n (from 1) waits a random time in ``[0, min(max_delay, initial * 2**(n-1))]``
    before the next try; no retry starts once it would end after ``budget_seconds``
    from the first attempt. ``max_attempts`` counts the first try.
    """

    max_attempts: int = 4
    initial: float = 0.5
    max_delay: float = 8.0
    budget_seconds: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.initial, self.max_delay, self.budget_seconds) < 0:
            raise ValueError("delays and budget must not be negative")

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.budget_seconds),
            wait=wait_random_exponential(multiplier=self.initial, max=self.max_delay),
            retry=retry_if_exception(lambda exc: isinstance(exc, GraphError) and exc.retryable),
            reraise=True,
        )


# --- result models --------------------------------------------------------------


class _Result(BaseModel):
    # Meta adds fields over time: keep what we know, ignore the rest.
    model_config = ConfigDict(extra="ignore", frozen=True)


class UserProfile(_Result):
    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    profile_pic: str | None = None  # the URL expires; download it if it must be kept
    locale: str | None = None
    timezone: float | None = None  # hours from UTC, may be fractional
    gender: str | None = None

    @property
    def display_name(self) -> str | None:
        parts = [part for part in (self.first_name, self.last_name) if part]
        return " ".join(parts) or self.name


class Persona(_Result):
    id: str
    name: str | None = None
    profile_picture_url: str | None = None


class TokenInfo(_Result):
    """The ``data`` of ``GET /debug_token``; times are Unix seconds, 0 meaning never."""

    app_id: str | None = None
    type: str | None = None
    application: str | None = None
    is_valid: bool = False
    expires_at: int | None = None
    data_access_expires_at: int | None = None
    issued_at: int | None = None
    scopes: list[str] = Field(default_factory=list)
    user_id: str | None = None
    profile_id: str | None = None
    error: dict[str, Any] | None = None

    @property
    def expires(self) -> datetime | None:
        """When the token expires, or None when it does not."""
        if not self.expires_at:
            return None
        return datetime.fromtimestamp(self.expires_at, tz=UTC)


# --- Messenger profile ----------------------------------------------------------

Locale = Annotated[str, Field(pattern=r"^(default|[a-z]{2}_[A-Z]{2})$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _require_default_locale(items: Sequence[Any], what: str) -> None:
    locales = [item.locale for item in items]
    if "default" not in locales:
        raise ValueError(f"{what} needs an entry for the 'default' locale")
    if len(set(locales)) != len(locales):
        raise ValueError(f"{what} has a locale more than once")


class GetStarted(_Model):
    payload: Payload


class Greeting(_Model):
    locale: Locale = "default"
    text: Annotated[str, Field(min_length=1, max_length=160)]


class IceBreaker(_Model):
    question: Annotated[str, Field(min_length=1, max_length=80)]
    payload: Payload


class LocalizedIceBreakers(_Model):
    locale: Locale = "default"
    call_to_actions: list[IceBreaker] = Field(min_length=1, max_length=4)


class MenuItem(_Model):
    type: Literal["web_url", "postback"]
    title: Annotated[str, Field(min_length=1, max_length=30)]
    url: Url | None = None
    payload: Payload | None = None
    webview_height_ratio: Literal["compact", "tall", "full"] | None = None

    @model_validator(mode="after")
    def _target(self) -> MenuItem:
        if self.type == "web_url" and (self.url is None or self.payload is not None):
            raise ValueError("a web_url menu item needs a url and no payload")
        if self.type == "postback" and (self.payload is None or self.url is not None):
            raise ValueError("a postback menu item needs a payload and no url")
        return self


class PersistentMenu(_Model):
    locale: Locale = "default"
    composer_input_disabled: bool = False
    call_to_actions: list[MenuItem] = Field(min_length=1, max_length=20)


class MessengerProfile(BaseModel):
    """``POST /me/messenger_profile`` body. Fields not modelled here pass through as-is.

    ``ice_breakers`` takes Meta's localized format (recommended, a 'default' locale
    required) or the older flat list of at most 4 questions, never both at once.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    get_started: GetStarted | None = None
    greeting: list[Greeting] | None = Field(default=None, min_length=1)
    ice_breakers: list[LocalizedIceBreakers] | list[IceBreaker] | None = Field(
        default=None, min_length=1
    )
    persistent_menu: list[PersistentMenu] | None = Field(default=None, min_length=1)
    whitelisted_domains: list[Annotated[str, Field(pattern=r"^https://\S+$")]] | None = Field(
        default=None, max_length=50
    )

    @model_validator(mode="after")
    def _locales(self) -> MessengerProfile:
        if self.greeting:
            _require_default_locale(self.greeting, "greeting")
        if self.persistent_menu:
            _require_default_locale(self.persistent_menu, "persistent_menu")
        if self.ice_breakers and isinstance(self.ice_breakers[0], LocalizedIceBreakers):
            _require_default_locale(self.ice_breakers, "ice_breakers")
        elif self.ice_breakers and len(self.ice_breakers) > 4:
            raise ValueError("at most 4 ice breakers")
        return self


# --- helpers --------------------------------------------------------------------


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the access token keyed with the app secret, lowercase hex."""
    key = app_secret.encode("utf-8")
    return hmac.new(key, access_token.encode("utf-8"), hashlib.sha256).hexdigest()


def _segment(value: str, what: str) -> str:
    """One URL path segment from an id; refuses empty values and escapes the rest."""
    if not value or not value.strip():
        raise ValueError(f"{what} must not be empty")
    return quote(value, safe="")


def _field_list(fields: Sequence[str] | str) -> list[str]:
    names = [fields] if isinstance(fields, str) else list(fields)
    if not names or any(not name or "," in name for name in names):
        raise ValueError("fields must be a non-empty list of field names")
    return names


_R = TypeVar("_R", bound=BaseModel)


def _parse(model: type[_R], body: object) -> _R:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # Not retryable: a send may have gone through even if its answer is odd.
        raise GraphError(f"Unexpected Graph API response for {model.__name__}: {exc}") from None


def _next_cursor(body: Mapping[str, Any]) -> str | None:
    """The ``after`` cursor of the next page, or None on the last page.

    The cursor is re-sent to our own base URL rather than fetching ``paging.next``
    itself, so the token only ever goes to the configured host.
    """
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    if isinstance(after, str) and after:
        return after
    from_url = parse_qs(urlsplit(str(paging["next"])).query).get("after")
    return from_url[0] if from_url else None


class _RedactCredentials(logging.Filter):
    """httpx logs every request URL at INFO, query string and token included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_LOG_REDACTION = _RedactCredentials()


def _install_log_redaction() -> None:
    logger = logging.getLogger("httpx")
    if _LOG_REDACTION not in logger.filters:
        logger.addFilter(_LOG_REDACTION)


def _transport_failure(exc: httpx.TransportError, secrets: Sequence[str]) -> GraphError:
    text = redact(f"Graph API request failed: {type(exc).__name__}: {exc}", secrets)
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return TemporaryError(text)
    return GraphError(text)  # e.g. a bad URL or proxy setting: retrying will not help


# --- client ---------------------------------------------------------------------


class GraphClient:
    """Messenger Graph API calls for one page access token."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str = "https://graph.facebook.com",
        version: str = "v25.0",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        app_secret: str | None = None,
    ) -> None:
        if not access_token:
            raise ValueError("access_token must not be empty")
        self._token = access_token
        self._app_secret = app_secret or None
        self._root = f"{base_url.rstrip('/')}/{version.strip('/')}"
        self._retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        _install_log_redaction()

    def __repr__(self) -> str:
        return f"GraphClient(root={self._root!r}, access_token={REDACTED!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- Send API

    async def send_message(self, request: SendRequest) -> SendResult:
        body = await self._call("POST", "me/messages", json=request.as_payload())
        return _parse(SendResult, body)

    async def send_sender_action(self, recipient_id: str, action: SenderAction) -> None:
        request = SendRequest(recipient=Recipient(id=recipient_id), sender_action=action)
        await self._call("POST", "me/messages", json=request.as_payload())

    async def private_reply(self, comment_id: str, message: Message | str) -> SendResult:
        """The one private message allowed for a comment (within 7 days of it)."""
        if isinstance(message, str):
            message = Message(text=message)
        request = SendRequest(
            recipient=Recipient(comment_id=comment_id),
            messaging_type=MessagingType.RESPONSE,
            message=message,
        )
        return await self.send_message(request)

    # -- people and personas

    async def get_user_profile(
        self, psid: str, fields: Sequence[str] = DEFAULT_PROFILE_FIELDS
    ) -> UserProfile:
        params = {"fields": ",".join(_field_list(fields))}
        body = await self._call("GET", _segment(psid, "psid"), params=params)
        return _parse(UserProfile, body)

    async def create_persona(self, name: str, profile_picture_url: str) -> str:
        if not name.strip() or len(name) > PERSONA_NAME_MAX:
            raise ValueError(f"persona name must be 1 to {PERSONA_NAME_MAX} characters")
        if not profile_picture_url.startswith(("https://", "http://")):
            raise ValueError("profile_picture_url must be an http(s) URL")
        body = await self._call(
            "POST",
            "me/personas",
            json={"name": name, "profile_picture_url": profile_picture_url},
        )
        return _parse(Persona, body).id

    async def get_persona(self, persona_id: str) -> Persona:
        body = await self._call("GET", _segment(persona_id, "persona_id"))
        return _parse(Persona, body)

    async def list_personas(self, page_id: str) -> list[Persona]:
        path = f"{_segment(page_id, 'page_id')}/personas"
        personas: list[Persona] = []
        params: dict[str, str] = {}
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            body = await self._call("GET", path, params=params)
            data = body.get("data")
            personas.extend(_parse(Persona, item) for item in data or ())
            cursor = _next_cursor(body)
            if cursor is None or cursor in seen:
                break
            seen.add(cursor)
            params = {"after": cursor}
        return personas

    async def delete_persona(self, persona_id: str) -> bool:
        body = await self._call("DELETE", _segment(persona_id, "persona_id"))
        return body.get("success") is True

    # -- Messenger profile

    async def set_messenger_profile(self, profile: MessengerProfile | Mapping[str, Any]) -> None:
        if not isinstance(profile, MessengerProfile):
            profile = MessengerProfile.model_validate(profile)
        payload = profile.model_dump(exclude_none=True, mode="json")
        if not payload:
            raise ValueError("the Messenger profile update is empty")
        await self._call("POST", "me/messenger_profile", json=payload)

    async def get_messenger_profile(self, fields: Sequence[str]) -> dict[str, Any]:
        params = {"fields": ",".join(_field_list(fields))}
        body = await self._call("GET", "me/messenger_profile", params=params)
        merged: dict[str, Any] = {}
        for item in body.get("data") or ():
            if isinstance(item, dict):
                merged.update(item)
        return merged

    async def delete_messenger_profile(self, fields: Sequence[str]) -> None:
        await self._call("DELETE", "me/messenger_profile", json={"fields": _field_list(fields)})

    # -- tokens and subscriptions

    async def debug_token(self, input_token: str, app_token: str) -> TokenInfo:
        """Inspect ``input_token`` (``GET /debug_token``), authenticated with the app token."""
        body = await self._call(
            "GET",
            "debug_token",
            params={"input_token": input_token},
            token=app_token,
            secrets=(input_token,),
        )
        return _parse(TokenInfo, body.get("data"))

    async def subscribe_app(self, page_id: str, fields: Sequence[str]) -> bool:
        """Subscribe this app to the page's webhooks (``subscribed_fields``)."""
        body = await self._call(
            "POST",
            f"{_segment(page_id, 'page_id')}/subscribed_apps",
            params={"subscribed_fields": ",".join(_field_list(fields))},
        )
        return body.get("success") is True

    # -- transport

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
        token: str | None = None,
        secrets: Sequence[str] = (),
    ) -> dict[str, Any]:
        token = token or self._token
        query = {"access_token": token}
        proof = appsecret_proof(token, self._app_secret) if self._app_secret else None
        if proof:
            query["appsecret_proof"] = proof
        query.update(params or {})
        all_secrets = tuple(s for s in (token, self._token, proof, *secrets) if s)
        url = f"{self._root}/{path}"
        result: dict[str, Any] = await self._retry.retrying()(
            self._once, method, url, query, json, all_secrets
        )
        return result

    async def _once(
        self,
        method: str,
        url: str,
        query: Mapping[str, str],
        body: object,
        secrets: Sequence[str],
    ) -> dict[str, Any]:
        failure: GraphError | None = None
        try:
            response = await self._http.request(method, url, params=query, json=body)
        except httpx.TransportError as exc:
            failure = _transport_failure(exc, secrets)
        if failure is not None:
            # Raised outside the except block so the httpx error (whose request
            # holds the URL and token) is not chained to it.
            raise failure

        try:
            payload: object = response.json()
        except ValueError:
            payload = response.text
        if response.is_success and isinstance(payload, dict) and "error" not in payload:
            return payload
        if response.is_success:
            # 2xx with a body that is not a Graph object: not retried, it may have worked.
            error = GraphError(
                f"Unexpected Graph API response (HTTP {response.status_code})",
                http_status=response.status_code,
            )
            if isinstance(payload, dict):
                error = error_from_response(response.status_code, payload)
        else:
            error = error_from_response(response.status_code, payload)
        error.scrub(secrets)
        raise error
