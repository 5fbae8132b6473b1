"""Public addresses of the info channel; the post page's path is what each post message
links to, so it must stay stable."""

from django.urls import path

from townhall.channel import public_views
from townhall.channel.feeds import PostFeed

app_name = "channel_public"
urlpatterns = [
    path("p/<str:public_id>/", public_views.post_detail, name="post"),
    path("p/<str:public_id>/datei/", public_views.attachment, name="attachment"),
    path("meldungen/", public_views.post_list, name="list"),
    path("meldungen/feed/", PostFeed(), name="feed"),
    path("meldungen/feed/<slug:topic_slug>/", PostFeed(), name="topic_feed"),
]
