from django.contrib import admin
from django.urls import include, path

from pagedesk.api.api import api
from pagedesk.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("pagedesk.web.urls")),
    path("events/", views.event_log, name="event-log"),
    path("events/<int:pk>/", views.event_detail, name="event-detail"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
