"""Pages of the corpus app: projects, members, threads and imports."""

from django.urls import path

from annotator.corpus import import_views, views

app_name = "corpus"
urlpatterns = [
    path("", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("p/<slug:slug>/", views.project_detail, name="project_detail"),
    path("p/<slug:slug>/members/", views.member_list, name="member_list"),
    path("p/<slug:slug>/articles/<int:article_id>/", views.article_thread, name="article_thread"),
    path("p/<slug:slug>/comments/<int:comment_id>/", views.comment_detail, name="comment_detail"),
    path(
        "p/<slug:slug>/comments/<int:comment_id>/parent/",
        views.comment_reparent,
        name="comment_reparent",
    ),
    path(
        "p/<slug:slug>/articles/<int:article_id>/delete/",
        views.article_delete,
        name="article_delete",
    ),
    path("p/<slug:slug>/imports/", import_views.import_list, name="import_list"),
    path("p/<slug:slug>/imports/<int:job_id>/", import_views.import_detail, name="import_detail"),
    path(
        "p/<slug:slug>/imports/<int:job_id>/preview/",
        import_views.import_preview_save,
        name="import_preview_save",
    ),
    path(
        "p/<slug:slug>/imports/<int:job_id>/preview/comments/",
        import_views.import_preview_search,
        name="import_preview_search",
    ),
    path(
        "p/<slug:slug>/imports/<int:job_id>/confirm/",
        import_views.import_confirm,
        name="import_confirm",
    ),
    path(
        "p/<slug:slug>/imports/<int:job_id>/discard/",
        import_views.import_discard,
        name="import_discard",
    ),
    path(
        "p/<slug:slug>/imports/<int:job_id>/retry/",
        import_views.import_retry,
        name="import_retry",
    ),
]
