"""The agent web app's pages (mounted at the site root by ``pagedesk.urls``)."""

from django.urls import path

from pagedesk.web import views_account, views_inbox

app_name = "web"

urlpatterns = [
    path("sign-in/", views_account.sign_in, name="sign-in"),
    path("sign-out/", views_account.sign_out, name="sign-out"),
    path("account/password/", views_account.password_change, name="password-change"),
    path("account/language/", views_account.set_language, name="language"),
    path("workspace/switch/", views_account.switch_workspace, name="workspace-switch"),
    path("no-workspace/", views_account.no_workspace, name="no-workspace"),
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/list/", views_inbox.inbox_list, name="inbox-list"),
    path("inbox/c/<int:pk>/", views_inbox.conversation, name="conversation"),
    path("inbox/c/<int:pk>/compose/", views_inbox.compose, name="compose"),
    path("inbox/c/<int:pk>/assign/", views_inbox.assign, name="assign"),
    path("inbox/c/<int:pk>/labels/", views_inbox.labels, name="labels"),
    path("inbox/c/<int:pk>/status/", views_inbox.set_status, name="status"),
    path("inbox/attachments/<int:pk>/", views_inbox.attachment, name="attachment"),
]
