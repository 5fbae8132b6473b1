from django.urls import path

from townhall.channel import views, views_polls, views_rate_card, views_report

app_name = "channel"
urlpatterns = [
    path("", views.posts, name="posts"),
    path("neu/", views.compose, name="compose"),
    path("entwurf/", views.autosave, name="autosave"),
    path("vorschau/", views.preview, name="preview"),
    path("publikum/", views.audience_panel, name="audience"),
    path("<int:post_id>/", views.post_detail, name="post"),
    path("<int:post_id>/bearbeiten/", views.edit, name="edit"),
    path("<int:post_id>/fortschritt/", views.post_progress, name="progress"),
    path("<int:post_id>/bericht/", views_report.post_report, name="report"),
    path("berichte/", views_report.compare, name="compare"),
    path("<int:post_id>/einreichen/", views.submit, name="submit"),
    path("<int:post_id>/freigeben/", views.approve, name="approve"),
    path("<int:post_id>/zurueckgeben/", views.request_changes, name="request_changes"),
    path("<int:post_id>/dringend/", views.send_urgent, name="send_urgent"),
    path("<int:post_id>/nachpruefen/", views.review_after, name="review_after"),
    path("<int:post_id>/pausieren/", views.pause, name="pause"),
    path("<int:post_id>/fortsetzen/", views.resume, name="resume"),
    path("<int:post_id>/abbrechen/", views.cancel, name="cancel"),
    path("<int:post_id>/umfrage/", views_polls.poll_results, name="poll"),
    path("<int:post_id>/umfrage/ergebnis/", views_polls.poll_results_fragment, name="poll_results"),
    path("<int:post_id>/umfrage/antworten.csv", views_polls.poll_answers_csv, name="poll_csv"),
    path("<int:post_id>/umfrage/schliessen/", views_polls.close_poll, name="poll_close"),
    path("<int:post_id>/umfrage/wieder-oeffnen/", views_polls.reopen_poll, name="poll_reopen"),
    path(
        "<int:post_id>/umfrage/ergebnis-senden/",
        views_polls.send_poll_results,
        name="poll_send_results",
    ),
    path("preise/", views_rate_card.rate_card, name="rate_card"),
    path("preise/neu/", views_rate_card.price_add, name="price_add"),
    path("preise/<int:price_id>/", views_rate_card.price_edit, name="price_edit"),
    path("preise/<int:price_id>/loeschen/", views_rate_card.price_delete, name="price_delete"),
]
