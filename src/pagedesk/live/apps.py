from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "pagedesk.live"
    label = "live"
    verbose_name = "pagedesk live updates"
