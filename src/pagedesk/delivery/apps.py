from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "pagedesk.delivery"
    label = "delivery"
