"""What each audit action code (see pagedesk.audit) means, in words people read.

Here in the web app, which shows them, so `makemessages` in src/pagedesk/web finds
the strings for the German catalogue."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

ACTIONS = {
    "workspace.created": _("Workspace created"),
    "member.role_changed": _("Role changed"),
    "member.removed": _("Member removed"),
    "invite.created": _("Invitation created"),
    "invite.revoked": _("Invitation revoked"),
    "invite.accepted": _("Invitation accepted"),
    "team.created": _("Team created"),
    "team.renamed": _("Team renamed"),
    "team.deleted": _("Team deleted"),
    "team.member_added": _("Added to a team"),
    "team.member_removed": _("Removed from a team"),
    "team.channels_changed": _("Team's pages changed"),
    "label.created": _("Label created"),
    "label.changed": _("Label changed"),
    "label.deleted": _("Label deleted"),
    "channel.added": _("Channel connected"),
    "channel.changed": _("Channel settings changed"),
    "channel.credentials_replaced": _("Channel credentials replaced"),
    "persona.created": _("Persona created"),
    "persona.deactivated": _("Persona deactivated"),
    "api_token.created": _("API token created"),
    "api_token.revoked": _("API token revoked"),
    "canned_reply.created": _("Canned reply saved"),
    "canned_reply.deleted": _("Canned reply deleted"),
    "contact.tagged_sends_allowed": _("Tagged messages allowed again"),
}


def action_label(code: str) -> str:
    return str(ACTIONS.get(code, code))
