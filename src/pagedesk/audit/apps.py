from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "pagedesk.audit"
    label = "audit"
    verbose_name = "pagedesk audit log"
