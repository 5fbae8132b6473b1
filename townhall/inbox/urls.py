from django.urls import path

from townhall.inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("poll/", views.conversation_list_poll, name="list_poll"),
    path("<int:pk>/", views.conversation_detail, name="conversation"),
    path("<int:pk>/history/", views.conversation_history, name="history"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/preview/", views.preview, name="preview"),
    path("<int:pk>/choices/", views.send_choices, name="choices"),
    path("<int:pk>/react/", views.react, name="react"),
    path("<int:pk>/template/", views.send_template, name="template"),
    path("<int:pk>/note/", views.add_note, name="note"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/state/", views.set_state, name="state"),
    path("<int:pk>/priority/", views.set_priority, name="priority"),
    path("<int:pk>/labels/", views.set_labels, name="labels"),
]
