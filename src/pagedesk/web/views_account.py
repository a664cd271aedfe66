"""Signing in and out, the password, the language and the workspace switcher."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pagedesk.core.errors import PagedeskError
from pagedesk.web import workspace as ws
from pagedesk.web.actions import available_time_zones, do_set_language, do_set_time_zone
from pagedesk.web.forms import LanguageForm, SignInForm, TimeZoneForm, WorkspaceSwitchForm
from pagedesk.web.middleware import SESSION_KEY as LANGUAGE_SESSION_KEY
from pagedesk.web.middleware import TIME_ZONE_SESSION_KEY

SIGN_IN_TEMPLATE = "pagedesk/account/sign_in.html"


def sign_in(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method != "POST":
        return redirect(next_url)
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request,
            username=_username_for(form.cleaned_data["email"]),
            password=form.cleaned_data["password"],
        )
        if user is not None:
            login(request, user)
            # The person's own language and time zone, from the next request on.
            request.session.pop(LANGUAGE_SESSION_KEY, None)
            request.session.pop(TIME_ZONE_SESSION_KEY, None)
            return redirect(next_url)
        form.add_error(None, _("That email and password do not match. Try again."))
    return render(request, SIGN_IN_TEMPLATE, {"form": form, "next": next_url})


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-axes calls this once a username + address pair is locked."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    form = SignInForm(initial={"email": request.POST.get("email", "")})
    message = _(
        "Too many failed sign-in attempts. For your security, signing in to this account "
        "from here is locked for %(minutes)s minutes. Try again later or ask an admin to "
        "reset your password."
    ) % {"minutes": minutes}
    context = {"form": form, "next": _safe_next(request, None), "locked": message}
    return render(request, SIGN_IN_TEMPLATE, context, status=429)


@login_required
@require_POST
def set_time_zone(request: HttpRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST)
    try:
        if not form.is_valid():
            raise PagedeskError("invalid_time_zone", "bad time zone")
        zone = form.cleaned_data["time_zone"]
        do_set_time_zone(user=request.user, time_zone=zone)
    except PagedeskError:
        messages.error(request, _("Pick a time zone from the list."))
    else:
        request.session[TIME_ZONE_SESSION_KEY] = zone
        messages.success(request, _("Times are now shown in %(zone)s.") % {"zone": zone or "UTC"})
    return redirect("web:password-change")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:sign-in")


class PasswordChangeView(auth_views.PasswordChangeView):
    """The account page: password, and the time zone times are shown in."""

    template_name = "pagedesk/account/password_change.html"
    success_url = reverse_lazy("web:inbox")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["time_zones"] = sorted(available_time_zones())
        context["time_zone"] = self.request.session.get(TIME_ZONE_SESSION_KEY) or ""
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("Your password was changed."))
        return response


password_change = PasswordChangeView.as_view()


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return redirect("web:inbox")
    language = form.cleaned_data["language"]
    if request.user.is_authenticated:
        do_set_language(user=request.user, language=language)
        request.session[LANGUAGE_SESSION_KEY] = language
    response = HttpResponseRedirect(_safe_next(request, form.cleaned_data["next"]))
    # Also a cookie: the sign-in page keeps the language after signing out.
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
    )
    return response


@login_required
@require_POST
def switch_workspace(request: HttpRequest) -> HttpResponse:
    form = WorkspaceSwitchForm(request.POST)
    if form.is_valid() and ws.switch(request, form.cleaned_data["workspace"]):
        return redirect("web:inbox")
    messages.error(request, _("You are not a member of that workspace."))
    return redirect("web:inbox")


@login_required
def no_workspace(request: HttpRequest) -> HttpResponse:
    if ws.resolve(request) is not None:
        return redirect("web:inbox")
    return render(request, "pagedesk/account/no_workspace.html")


def _username_for(email: str) -> str:
    """Accounts are named by email; an account whose username differs (an operator's
    ``createsuperuser``) signs in with its email too, when that email is unique."""
    users = get_user_model().objects
    user = users.filter(username=email).first() or users.filter(username__iexact=email).first()
    if user is not None:
        return str(user.get_username())
    matches = list(users.filter(email__iexact=email)[:2])
    return str(matches[0].get_username()) if len(matches) == 1 else email


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("web:inbox")
