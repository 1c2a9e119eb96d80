from __future__ import annotations

from django.urls import path

from generations.views import callbacks, compare, create, downloads, files, gallery, jobs, picker
from generations.views import chat as chat_views

urlpatterns = [
    path("", create.create, name="create"),
    path("create/<str:slug>/", create.run, name="run"),
    path("create/<str:slug>/estimate", create.estimate, name="estimate"),
    path("create/<str:slug>/rows", create.rows, name="rows"),
    path("create/<str:slug>/picks/<str:name>", picker.picks, name="picks"),
    path("g/cards", jobs.cards, name="generation-cards"),
    path("g/<uuid:code>/", jobs.detail, name="generation"),
    path("g/<uuid:code>/card", jobs.card, name="generation-card"),
    path("g/<uuid:code>/cancel", jobs.cancel, name="generation-cancel"),
    path("g/<uuid:code>/retry", jobs.retry, name="generation-retry"),
    path("g/<uuid:code>/approve", jobs.approve, name="generation-approve"),
    path("g/<uuid:code>/reject", jobs.reject, name="generation-reject"),
    path("g/<uuid:code>/star", jobs.star, name="generation-star"),
    path("approvals/", jobs.approvals, name="approvals"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("gallery/download.zip", downloads.gallery_zip, name="gallery-zip"),
    path("gallery/star", gallery.star_chosen, name="gallery-star"),
    path("gallery/delete", gallery.delete_chosen, name="gallery-delete"),
    path("gallery/restore", gallery.restore_chosen, name="gallery-restore"),
    path("compare/", compare.compare, name="compare"),
    path("g/<uuid:code>/files/<int:position>", jobs.result_file, name="generation-file"),
    path("g/<uuid:code>/inputs/<str:name>/<int:index>", jobs.input_file, name="generation-input"),
    path("callbacks/<uuid:code>/<str:token>", callbacks.callback, name="callback"),
    path("inputs/<str:token>/<str:filename>", files.input_file, name="input-file"),
    path("chat/", chat_views.index, name="chat"),
    path("chat/new", chat_views.new, name="chat-new"),
    path("chat/<uuid:code>/", chat_views.conversation, name="chat-conversation"),
    path("chat/<uuid:code>/send", chat_views.send, name="chat-send"),
    path("chat/<uuid:code>/stream/<int:message_id>", chat_views.stream, name="chat-stream"),
    path("chat/<uuid:code>/stop/<int:message_id>", chat_views.stop, name="chat-stop"),
    path(
        "chat/<uuid:code>/regenerate/<int:message_id>",
        chat_views.regenerate,
        name="chat-regenerate",
    ),
    path("chat/<uuid:code>/edit/<int:message_id>", chat_views.edit, name="chat-edit"),
    path("chat/<uuid:code>/rename", chat_views.rename, name="chat-rename"),
    path("chat/<uuid:code>/delete", chat_views.delete, name="chat-delete"),
    path("chat/<uuid:code>/settings", chat_views.change_settings, name="chat-settings"),
]
