"""Forms of the agent web app: every field a person can type or pick, validated here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from pagedesk.web.selectors import TABS, InboxFilters

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


class WorkspaceSwitchForm(forms.Form):
    workspace = forms.IntegerField(min_value=1)


class InboxFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=[(t, t) for t in TABS], required=False)
    channel = forms.IntegerField(min_value=1, required=False)
    label = forms.IntegerField(min_value=1, required=False)
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
            q=data.get("q") or "",
        )
        return filters, data.get("cursor") or ""


class ComposerForm(forms.Form):
    text = forms.CharField(
        label=_("Message"),
        max_length=MAX_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    note = forms.BooleanField(required=False, label=_("Internal note"))
    human_agent = forms.BooleanField(required=False, label=_("Send with the HUMAN_AGENT tag"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        text = data.get("text") or ""
        if not data.get("note") and len(text) > MAX_MESSAGE_CHARS:
            self.add_error(
                "text",
                _("Messenger messages can have at most %(limit)s characters.")
                % {"limit": MAX_MESSAGE_CHARS},
            )
        return data


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
