"""Forms of the agent web app: every field a person can type or pick, validated here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from pagedesk.web.selectors import SOURCES, TABS, InboxFilters

MAX_MESSAGE_CHARS = 2000  # Meta's limit for a text message
MAX_NOTE_CHARS = 10000


class SignInForm(forms.Form):
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False, max_length=2000)


class TimeZoneForm(forms.Form):
    time_zone = forms.CharField(max_length=64, required=False)


class WorkspaceSwitchForm(forms.Form):
    workspace = forms.IntegerField(min_value=1)


class InboxFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=[(t, t) for t in TABS], required=False)
    channel = forms.IntegerField(min_value=1, required=False)
    label = forms.IntegerField(min_value=1, required=False)
    team = forms.IntegerField(min_value=1, required=False)
    source = forms.ChoiceField(choices=[(s, s) for s in SOURCES], required=False)
    q = forms.CharField(max_length=200, required=False, strip=True)
    cursor = forms.CharField(max_length=200, required=False)

    @classmethod
    def parse(cls, query: QueryDict) -> tuple[InboxFilters, str]:
        """The filters of a query string; invalid values fall back to the default."""
        form = cls(query)
        form.is_valid()
        data: dict[str, Any] = {
            name: value for name, value in form.cleaned_data.items() if name not in form.errors
        }
        filters = InboxFilters(
            tab=data.get("tab") or "all",
            channel_id=data.get("channel"),
            label_id=data.get("label"),
            team_id=data.get("team"),
            source=data.get("source") or "",
            q=data.get("q") or "",
        )
        return filters, data.get("cursor") or ""


class AttributeForm(forms.Form):
    """One custom attribute of a contact (the action checks names and lengths)."""

    key = forms.CharField(max_length=100)
    value = forms.CharField(max_length=1000, required=False)
    remove = forms.BooleanField(required=False)


MAX_QUICK_REPLIES = 13  # Meta's limits
MAX_QUICK_REPLY_CHARS = 20
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # Meta's limit for an attachment
# What an agent may attach, by content type, and the Send API type it is sent as.
UPLOAD_TYPES = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/gif": "image",
    "image/webp": "image",
    "video/mp4": "video",
    "video/quicktime": "video",
    "video/3gpp": "video",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/aac": "audio",
    "audio/ogg": "audio",
    "audio/wav": "audio",
    "application/pdf": "file",
    "text/plain": "file",
    "text/csv": "file",
    "application/zip": "file",
    "application/msword": "file",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "file",
    "application/vnd.ms-excel": "file",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "file",
}


class ComposerForm(forms.Form):
    text = forms.CharField(
        label=_("Message"),
        max_length=MAX_NOTE_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    note = forms.BooleanField(required=False, label=_("Internal note"))
    human_agent = forms.BooleanField(required=False, label=_("Send with the HUMAN_AGENT tag"))
    quick_replies = forms.CharField(label=_("Quick replies"), max_length=1000, required=False)
    attachment = forms.FileField(label=_("Attachment"), required=False)

    def clean_quick_replies(self) -> list[str]:
        value = self.cleaned_data.get("quick_replies") or ""
        titles = [title.strip() for title in value.split(",") if title.strip()]
        if len(titles) > MAX_QUICK_REPLIES:
            raise forms.ValidationError(
                _("At most %(limit)s quick replies (you wrote %(count)s).")
                % {"limit": MAX_QUICK_REPLIES, "count": len(titles)}
            )
        for title in titles:
            if len(title) > MAX_QUICK_REPLY_CHARS:
                raise forms.ValidationError(
                    _("Quick reply “%(title)s” is too long: at most %(limit)s characters.")
                    % {"title": title, "limit": MAX_QUICK_REPLY_CHARS}
                )
        return titles

    def clean_attachment(self) -> Any:
        upload = self.cleaned_data.get("attachment")
        if upload is None:
            return None
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is too large: Messenger accepts at most %(limit)s MB.")
                % {"limit": MAX_UPLOAD_BYTES // (1024 * 1024)}
            )
        if upload_type(upload) is None:
            raise forms.ValidationError(
                _(
                    "Messenger cannot take this kind of file. Send an image, video, audio, PDF, "
                    "text or office document."
                )
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        text = data.get("text") or ""
        note = data.get("note")
        if note and (data.get("attachment") or data.get("quick_replies")):
            self.add_error(None, _("Internal notes cannot have attachments or quick replies."))
        if not text.strip() and not data.get("attachment") and "attachment" not in self.errors:
            self.add_error("text", _("Write a message or attach a file."))
        if not note and len(text) > MAX_MESSAGE_CHARS:
            self.add_error(
                "text",
                _("Messenger messages can have at most %(limit)s characters.")
                % {"limit": MAX_MESSAGE_CHARS},
            )
        return data


def upload_type(upload: Any) -> str | None:
    """The Send API attachment type of an uploaded file, or ``None`` if not allowed."""
    content_type = (upload.content_type or "").split(";", 1)[0].strip().lower()
    return UPLOAD_TYPES.get(content_type)


class CannedReplyForm(forms.Form):
    shortcut = forms.SlugField(
        label=_("Shortcut"),
        max_length=32,
        help_text=_("Letters, digits, - and _; type /shortcut in the composer."),
    )
    text = forms.CharField(
        label=_("Text"), max_length=MAX_MESSAGE_CHARS, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean_shortcut(self) -> str:
        return str(self.cleaned_data["shortcut"]).lower()


class AssignForm(forms.Form):
    assignee = forms.CharField(required=False)  # a user id, "me", or "" for nobody
    team = forms.CharField(required=False)  # a team id or "" for none


class IdListField(forms.Field):
    """Repeated ``name=<id>`` values (checkboxes) as a list of ints."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        try:
            return sorted({int(v) for v in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError(_("Pick from the list."), code="invalid") from None


class LabelsForm(forms.Form):
    labels = IdListField(required=False)
    new_label = forms.CharField(max_length=64, required=False, strip=True)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[("open", "open"), ("done", "done")])
