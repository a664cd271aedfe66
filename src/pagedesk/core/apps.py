from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "pagedesk.core"
    label = "core"
    verbose_name = "pagedesk core"
