"""The agent web app's pages (mounted at the site root by ``pagedesk.urls``)."""

from django.urls import path

from pagedesk.web import views_account, views_admin, views_audit, views_inbox

app_name = "web"

urlpatterns = [
    path("sign-in/", views_account.sign_in, name="sign-in"),
    path("sign-out/", views_account.sign_out, name="sign-out"),
    path("account/password/", views_account.password_change, name="password-change"),
    path("account/language/", views_account.set_language, name="language"),
    path("account/time-zone/", views_account.set_time_zone, name="time-zone"),
    path("workspace/switch/", views_account.switch_workspace, name="workspace-switch"),
    path("no-workspace/", views_account.no_workspace, name="no-workspace"),
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/list/", views_inbox.inbox_list, name="inbox-list"),
    path("inbox/c/<int:pk>/", views_inbox.conversation, name="conversation"),
    path("inbox/c/<int:pk>/compose/", views_inbox.compose, name="compose"),
    path("inbox/c/<int:pk>/assign/", views_inbox.assign, name="assign"),
    path("inbox/c/<int:pk>/labels/", views_inbox.labels, name="labels"),
    path("inbox/c/<int:pk>/status/", views_inbox.set_status, name="status"),
    path("inbox/c/<int:pk>/m/<int:message_pk>/retry/", views_inbox.retry, name="retry"),
    path("inbox/c/<int:pk>/allow-tagged/", views_inbox.allow_tagged, name="allow-tagged"),
    path(
        "inbox/c/<int:pk>/attributes/",
        views_inbox.contact_attributes,
        name="contact-attributes",
    ),
    path("inbox/c/<int:pk>/typing/", views_inbox.typing, name="typing"),
    path("inbox/canned/", views_inbox.canned_replies, name="canned-replies"),
    path(
        "inbox/canned/<int:pk>/delete/",
        views_inbox.canned_reply_delete,
        name="canned-reply-delete",
    ),
    path(
        "media/outbound/<str:token>/<str:name>",
        views_inbox.outbound_media,
        name="outbound-media",
    ),
    path("inbox/attachments/<int:pk>/", views_inbox.attachment, name="attachment"),
    path("invite/<str:token>/", views_admin.invite, name="invite"),
    path("settings/", views_admin.settings_home, name="settings"),
    path("settings/members/", views_admin.members, name="settings-members"),
    path("settings/audit/", views_audit.audit_log, name="settings-audit"),
    path("settings/members/<int:pk>/role/", views_admin.member_role, name="settings-member-role"),
    path(
        "settings/members/<int:pk>/remove/",
        views_admin.member_remove,
        name="settings-member-remove",
    ),
    path("settings/invites/", views_admin.invite_create, name="settings-invite"),
    path(
        "settings/invites/<int:pk>/revoke/",
        views_admin.invite_revoke,
        name="settings-invite-revoke",
    ),
    path("settings/teams/", views_admin.teams, name="settings-teams"),
    path(
        "settings/teams/<int:pk>/<str:op>/",
        views_admin.team_edit,
        name="settings-team-edit",
    ),
    path("settings/labels/", views_admin.labels, name="settings-labels"),
    path(
        "settings/labels/<int:pk>/<str:op>/",
        views_admin.label_edit,
        name="settings-label-edit",
    ),
    path("settings/channels/", views_admin.channels, name="settings-channels"),
    path("settings/channels/<int:pk>/", views_admin.channel_edit, name="settings-channel"),
    path(
        "settings/channels/<int:pk>/token/",
        views_admin.channel_token,
        name="settings-channel-token",
    ),
    path(
        "settings/channels/<int:pk>/personas/",
        views_admin.personas,
        name="settings-personas",
    ),
    path(
        "settings/channels/<int:pk>/personas/<int:persona_pk>/deactivate/",
        views_admin.persona_deactivate,
        name="settings-persona-deactivate",
    ),
]
