"""Model suggestions in the workspace: when they are on the page, and what each save records.

"After" must hold for what the server sends, not only for what the page shows: the model's
answer to a question is nowhere in the HTML until the annotator's own answer is saved.
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from annotator.assist.models import MachineLabeller
from annotator.assist.suggestions import record, suggestions_for
from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.models import Annotation
from tests.factories import ArticleFactory, make_comment, make_model, make_prediction

pytestmark = pytest.mark.django_db

MODEL_SAYS = "Pre-selected"


@pytest.fixture
def comment(project):
    return make_comment(ArticleFactory(project=project), text="They will never agree.")


def _page(client, project, comment) -> str:
    url = reverse("labelling:workspace", args=[project.slug, comment.pk])
    return client.get(url).content.decode()


def _save(client, project, comment, data, *, action="autosave", revision=0, **extra):
    url = reverse("labelling:save", args=[project.slug, comment.pk])
    return client.post(
        url,
        {**data, "revision": revision, "action": action, "suggested": "1", **extra},
        HTTP_HX_REQUEST="true",
    )


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_in_mode_after_the_models_answer_is_not_in_the_page_until_the_annotators_is_saved(
    project, annotator, comment
):
    model = make_model(project, "gpt-judge", suggestions="after")
    make_prediction(model, comment, "stance_article", "deny", 0.83)
    client = _client(annotator)

    before = _page(client, project, comment)
    assert "gpt-judge" not in before and "83%" not in before
    assert 'id="s-stance_article" hidden' in before  # only the empty placeholder

    saved = _save(client, project, comment, {"stance_article": "support"})
    body = saved.content.decode()
    assert saved.status_code == 200
    assert 'id="s-stance_article"' in body and 'hx-swap-oob="true"' in body
    assert "gpt-judge" in body and "Deny" in body and "83%" in body

    annotation = Annotation.objects.get(comment=comment, annotator=annotator)
    assert annotation.suggestions["stance_article"] == {
        "model": model.pk,
        "label": "gpt-judge@1",
        "answer": "deny",
        "confidence": 0.83,
        "mode": "after",
        "before": "support",
        "equals": False,
    }
    # Once answered, a reload shows it beside the answer.
    assert "gpt-judge" in _page(client, project, comment)


def test_changing_the_answer_after_seeing_the_model_keeps_what_was_chosen_before(
    project, annotator, comment
):
    model = make_model(project, "gpt-judge", suggestions="after")
    make_prediction(model, comment, "stance_article", "deny", 0.83)
    client = _client(annotator)
    _save(client, project, comment, {"stance_article": "support"})

    _save(client, project, comment, {"stance_article": "deny"}, revision=1)

    entry = Annotation.objects.get(comment=comment).suggestions["stance_article"]
    assert (entry["before"], entry["equals"], entry["mode"]) == ("support", True, "after")


def test_in_mode_preselect_the_models_answer_is_selected_marked_and_recorded_as_kept(
    project, annotator, comment
):
    model = make_model(project, "learner", suggestions="preselect")
    make_prediction(model, comment, "claim_type", "prediction", 0.61)
    client = _client(annotator)

    page = _page(client, project, comment)
    (chosen,) = re.findall(r'<input [^>]*id="a-claim_type-prediction"[^>]*>', page)
    assert " checked" in chosen
    assert not any(
        " checked" in tag
        for tag in re.findall(r'<input [^>]*name="claim_type"[^>]*>', page)
        if tag != chosen
    )
    assert MODEL_SAYS in page and "learner@1" in page and "61% sure" in page
    assert f'name="preselected" value="claim_type:{model.pk}"' in page

    _save(
        client,
        project,
        comment,
        {"claim_type": "prediction"},
        preselected=f"claim_type:{model.pk}",
    )

    entry = Annotation.objects.get(comment=comment).suggestions["claim_type"]
    assert (entry["mode"], entry["equals"], entry["before"]) == ("preselect", True, None)


def test_a_preselected_answer_the_annotator_changed_is_recorded_as_not_kept(
    project, annotator, comment
):
    model = make_model(project, "learner", suggestions="preselect")
    make_prediction(model, comment, "claim_type", "prediction", 0.61)
    client = _client(annotator)

    _save(client, project, comment, {"claim_type": "opinion"}, preselected=f"claim_type:{model.pk}")

    entry = Annotation.objects.get(comment=comment).suggestions["claim_type"]
    assert (entry["mode"], entry["equals"]) == ("preselect", False)


def test_a_forged_preselected_value_is_ignored(project, annotator, comment):
    model = make_model(project, "learner", suggestions="after")
    make_prediction(model, comment, "claim_type", "prediction", 0.61)
    client = _client(annotator)

    _save(client, project, comment, {"claim_type": "opinion"}, preselected="claim_type:99999")

    entry = Annotation.objects.get(comment=comment).suggestions["claim_type"]
    assert entry["mode"] == "after"


def test_hidden_models_stale_predictions_and_older_versions_never_suggest(
    project, annotator, comment
):
    hidden = make_model(project, "quiet", suggestions="hidden")
    make_prediction(hidden, comment, "stance_article", "deny", 0.9)
    old = make_model(project, "learner", version="1", suggestions="after")
    make_prediction(old, comment, "claim_type", "opinion", 0.9)
    make_model(project, "learner", version="2", suggestions="after")  # answers nothing here
    stale = make_model(project, "stale", suggestions="preselect")
    from django.utils import timezone

    make_prediction(stale, comment, "speculation", "certain", 0.9, stale_since=timezone.now())

    assert suggestions_for(comment.pk, default_scheme()) == {}


def test_an_answer_the_current_scheme_no_longer_offers_is_not_suggested(project, comment):
    model = make_model(project, "old-scheme", suggestions="preselect")
    make_prediction(model, comment, "claim_type", "rumour", 0.7)  # not a choice (any more)
    make_prediction(model, comment, "speculation", "certain", 0.7)

    assert set(suggestions_for(comment.pk, default_scheme())) == {"speculation"}


def test_a_page_without_suggestions_saves_without_looking_them_up(
    project, annotator, comment, django_assert_num_queries
):
    from django.db import connection

    from tests.labelling.test_views import AUTOSAVE_QUERIES

    client = _client(annotator)
    url = reverse("labelling:save", args=[project.slug, comment.pk])
    client.post(url, {"stance_article": "deny", "revision": 0, "action": "autosave"})
    with django_assert_num_queries(AUTOSAVE_QUERIES[connection.vendor]):
        client.post(url, {"stance_article": "support", "revision": 1, "action": "autosave"})


def test_the_record_keeps_entries_of_questions_no_longer_suggested():
    previous = {"claim_type": {"model": 1, "mode": "after", "equals": True}}
    assert record({}, {"claim_type": "opinion"}, previous, set()) == previous


def test_models_are_kept_apart_from_people_on_the_annotation(project, annotator, comment):
    """A prediction is not an annotation: the comment stays unlabelled for everyone."""
    model = make_model(project, "learner", suggestions="preselect")
    make_prediction(model, comment, "stance_article", "deny", 0.9)
    assert not Annotation.objects.filter(comment=comment).exists()
    assert MachineLabeller.objects.get().predictions.count() == 1
