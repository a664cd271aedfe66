import django.db.models.functions.comparison
from django.db import migrations, models


def create_search_index(apps, schema_editor):
    from pagedesk.inbox.search import ensure_index

    ensure_index(schema_editor.connection)


def drop_search_index(apps, schema_editor):
    from pagedesk.inbox.search import drop_index

    drop_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0002_note"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="attributes",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="contact",
            name="tagged_sends_stopped_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="ad_message_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("workspace"),
                models.F("status"),
                django.db.models.functions.comparison.Coalesce(
                    "last_message_at", "created_at"
                ).desc(),
                models.F("id").desc(),
                name="inbox_conversation_activity",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                fields=["workspace", "status", "assignee"], name="inbox_conv_tab_counts"
            ),
        ),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
