from django.contrib import admin

from pagedesk.core.models import Channel, RawWebhook


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "page_id", "username", "kind", "created_at")
    # Credentials are never rendered back; change them through the CLI.
    exclude = ("page_access_token", "app_secret")


@admin.register(RawWebhook)
class RawWebhookAdmin(admin.ModelAdmin):
    list_display = ("id", "received_at", "status", "page_ids", "body_size")
    list_filter = ("status",)
    readonly_fields = ("received_at", "status", "signature_valid", "page_ids", "body_size", "error")
    exclude = ("body",)
