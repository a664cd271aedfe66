from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "pagedesk.web"
    label = "web"
