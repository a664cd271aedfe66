"""Forms of the admin pages (``/settings/…``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from pagedesk.core.actions_admin import ALLOWED_TAGS, PERSONA_NAME_MAX, RETIRED_TAGS
from pagedesk.core.models import Membership


def role_choices() -> list[tuple[str, str]]:
    return [
        (Membership.Role.OWNER, _("Owner")),
        (Membership.Role.ADMIN, _("Admin")),
        (Membership.Role.AGENT, _("Agent")),
    ]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=role_choices)


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=role_choices, initial=Membership.Role.AGENT)


class NameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)


class TeamMemberForm(forms.Form):
    user = forms.IntegerField(min_value=1)


class TeamChannelsForm(forms.Form):
    channels = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args: Any, channel_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = [(i, str(i)) for i in channel_ids]


class LabelForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)
    color = forms.RegexField(
        label=_("Colour"),
        regex=r"^#[0-9a-fA-F]{6}$",
        initial="#6b7280",
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": _("A colour looks like #1a2b3c.")},
    )


def tag_choices() -> list[tuple[str, str]]:
    retired = _("retired by Meta")
    return [(tag, tag) for tag in ALLOWED_TAGS] + [
        (tag, f"{tag} ({retired})") for tag in RETIRED_TAGS
    ]


class ChannelForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=255)
    allowed_tags = forms.MultipleChoiceField(
        label=_("Message tags this page may use"),
        choices=tag_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    personas_enabled = forms.BooleanField(
        label=_("Send replies under the agent's persona"), required=False
    )


class PageTokenForm(forms.Form):
    page_token = forms.CharField(
        label=_("New page access token"),
        min_length=8,
        max_length=2000,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )


class PersonaForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Agent"), coerce=int)
    name = forms.CharField(label=_("Persona name"), max_length=PERSONA_NAME_MAX)
    picture_url = forms.URLField(label=_("Picture URL"), max_length=2000, assume_scheme="https")

    def __init__(self, *args: object, members: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["user"].choices = members  # type: ignore[attr-defined]


class NewPasswordForm(forms.Form):
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: object, email: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.email = email

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second:
            if first != second:
                self.add_error("password2", _("The two passwords differ."))
            else:
                try:
                    password_validation.validate_password(str(first))
                except forms.ValidationError as problem:
                    self.add_error("password1", problem)
        return data


class InvitePasswordForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
