"""The built-in learner: what it learns from, how honestly it measures itself, and the run
that trains a new version and predicts every comment (learner.py and learner_runs.py)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from annotator.assist import learner
from annotator.assist.learner_runs import settled_labels
from annotator.assist.models import MachineLabeller, Prediction, PredictionRun
from annotator.assist.runs import run_prediction_run
from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.schemes import current_scheme_for
from tests.factories import (
    ArticleFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_gold_label,
    make_label,
    make_model,
)

SCHEME = default_scheme()
STANCE = SCHEME.question("stance_article")
STANCE_PARENT = SCHEME.question("stance_parent")
SOURCES = SCHEME.question("source_cited")
CUES = {
    "support": "agree right exactly true",
    "deny": "wrong false nonsense lie",
    "query": "why how source really",
    "comment": "lol weather football pizza",
}
FILLER = ["the", "a", "of", "and", "it", "this", "that", "news", "article", "people", "time"]


def cue_text(answer: str, rng: random.Random) -> str:
    """A comment whose words give away ``answer``, among filler words."""
    words = rng.sample(CUES[answer].split(), 2) + rng.sample(FILLER, 6)
    rng.shuffle(words)
    return " ".join(words)


def examples(n: int, *, learnable: bool, seed: int = 0) -> list[learner.Example]:
    rng = random.Random(seed)
    answers = list(CUES)
    out = []
    for i in range(n):
        answer = answers[i % 4]
        text = cue_text(answer, rng)
        label = answer if learnable else rng.choice(answers)
        out.append(learner.Example(text, "", label))
    return out


def train(question, found):
    params = learner.LearnerParams()
    features = learner.TextFeatures(params)
    features.fit_transform([e.text for e in found] + [e.parent_text for e in found])
    return learner.train_question(
        params, question, found, learner.matrix_of_texts(features, question)
    )


def test_cross_validation_finds_a_learnable_answer_and_chance_in_random_labels():
    _, learned = train(STANCE, examples(200, learnable=True))
    _, random_labels = train(STANCE, examples(200, learnable=False))

    assert learned["macro_f1"] > 0.9 and learned["accuracy"] > 0.9
    assert random_labels["macro_f1"] < 0.45  # chance is 0.25 for four answers
    assert learned["folds"] == 5 and learned["labels"] == 200 and not learned["too_few"]
    assert learned["classes"] == {"support": 50, "deny": 50, "query": 50, "comment": 50}


def test_above_the_sample_size_it_cross_validates_a_stratified_sample_and_learns_from_all():
    found = examples(200, learnable=True)
    found += [e for e in examples(160, learnable=True, seed=5) if e.answer == "query"]
    params = learner.LearnerParams(cv_sample=80)
    features = learner.TextFeatures(params)
    features.fit_transform([e.text for e in found])
    fitted_on = []
    fit = learner._fit

    def spy(params, question, classes, X, y):
        fitted_on.append(X.shape[0])
        return fit(params, question, classes, X, y)

    y = learner._targets(STANCE, list(CUES), found)
    sample = learner.cross_validation_rows(params, STANCE, y)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(learner, "_fit", spy)
        model, figures = learner.train_question(
            params, STANCE, found, learner.matrix_of_texts(features, STANCE)
        )

    assert model is not None and len(model.classifiers) == 1
    assert figures["cv_labels"] == 80 and figures["labels"] == 240
    assert figures["macro_f1"] > 0.9
    assert fitted_on == [64] * 5 + [240]  # five folds of the sample, then every example
    assert len(set(sample)) == 80
    shares = Counter(y[sample])  # 90 of the 240 are query, 50 each of the others
    assert shares["query"] == 30 and {shares[a] for a in ("support", "deny", "comment")} <= {16, 17}
    small = learner.cross_validation_rows(learner.LearnerParams(), STANCE, y)
    assert list(small) == list(range(240))  # up to the sample size, every example


def test_training_is_deterministic():
    found = examples(120, learnable=False, seed=3)
    assert train(STANCE, found)[1] == train(STANCE, found)[1]


def test_few_labels_or_a_rare_answer_are_marked_too_few_with_the_reason():
    _, few = train(STANCE, examples(40, learnable=True))
    rare = examples(100, learnable=True)
    rare = [e for e in rare if e.answer != "query"] + [e for e in rare if e.answer == "query"][:3]
    _, rare_figures = train(STANCE, rare)

    assert few["too_few"] and "40 labels" in few["warning"]
    assert rare_figures["too_few"] and "fewer than 5 labels of query" in rare_figures["warning"]
    assert rare_figures["folds"] == 3  # no more folds than the rarest answer has labels


def test_a_question_with_too_little_for_any_model_is_skipped_with_the_reason():
    one_answer = [learner.Example(f"text {i}", "", "deny") for i in range(30)]
    model, figures = train(STANCE, one_answer)
    assert model is None and "same answer" in figures["skipped"]

    model, figures = train(STANCE, examples(6, learnable=True))
    assert model is None and "too few" in figures["skipped"]


def test_gold_is_preferred_over_the_majority_and_ties_are_dropped():
    assert learner.settled_answer(STANCE, "query", ["deny", "deny"]) == "query"
    assert learner.settled_answer(STANCE, None, ["deny", "deny", "query"]) == "deny"
    assert learner.settled_answer(STANCE, None, ["deny", "query"]) is None
    assert learner.settled_answer(STANCE, None, ["no-longer-a-choice"]) is None
    assert learner.settled_answer(SOURCES, None, [["link"], ["link"]]) == frozenset({"link"})


def test_the_parent_text_is_what_a_parent_question_learns_from():
    """The reply's own words say nothing; the parent's give the answer away."""
    rng = random.Random(1)
    found = []
    for i in range(160):
        answer = list(CUES)[i % 4]
        found.append(
            learner.Example(" ".join(rng.sample(FILLER, 6)), cue_text(answer, rng), answer)
        )

    _, about_parent = train(STANCE_PARENT, found)
    _, about_comment = train(STANCE, found)

    assert about_parent["macro_f1"] > 0.9
    assert about_comment["macro_f1"] < 0.5


def test_a_multiple_choice_question_gets_one_classifier_per_choice_and_exclusive_stands_alone():
    rng = random.Random(2)
    found = []
    for i in range(120):
        chosen = [["link"], ["none"], ["link", "named_source"]][i % 3]
        cues = {"link": "http www", "none": "think feel", "named_source": "reuters bbc"}
        words = [w for c in chosen for w in cues[c].split()] + rng.sample(FILLER, 4)
        found.append(learner.Example(" ".join(words), "", frozenset(chosen)))
    params = learner.LearnerParams()
    features = learner.TextFeatures(params)
    features.fit_transform([e.text for e in found])

    model, figures = learner.train_question(
        params, SOURCES, found, learner.matrix_of_texts(features, SOURCES)
    )
    answers, confidence = learner.predict_labels(
        model, features.transform(["think feel the", "http www reuters bbc"])
    )

    assert figures["macro_f1"] > 0.9 and figures["accuracy"] > 0.9
    assert answers == [["none"], ["link", "named_source"]]
    assert all(0.5 <= c <= 1 for c in confidence)


# --- The run: from the project's labels to a new version's predictions -------------------


@pytest.fixture
def labelled(project):
    """60 labelled top-level comments with a learnable stance, 20 replies, 10 unlabelled."""
    rng = random.Random(0)
    article = ArticleFactory(project=project)
    answers = list(CUES)
    tops = [make_comment(article, text=cue_text(answers[i % 4], rng)) for i in range(60)]
    replies = [make_comment(article, tops[i], text=f"reply {i}") for i in range(20)]
    unlabelled = [make_comment(article, text=cue_text("deny", rng)) for _ in range(10)]
    people = [UserFactory(username=f"labeller{i}") for i in range(2)]
    label_in_bulk(tops, people, lambda i, c, a: {"stance_article": answers[i % 4]})
    return tops, replies, unlabelled


def train_run(project, user=None) -> PredictionRun:
    run = PredictionRun.objects.create(
        project=project, kind=PredictionRun.Kind.TRAIN, created_by=user
    )
    return run_prediction_run(run.pk)


def test_a_run_trains_a_new_version_and_predicts_every_comment(project, labelled):
    tops, replies, unlabelled = labelled

    run = train_run(project)

    assert run.status == "succeeded", run.error
    model = MachineLabeller.objects.get(project=project, name="learner")
    assert (model.kind, model.version, model.suggestions) == ("learner", "1", "after")
    assert run.labeller == model
    assert model.quality["stance_article"]["labels"] == 60
    assert model.quality["stance_article"]["macro_f1"] > 0.8
    assert "skipped" in model.quality["claim_type"]
    assert model.config["labels"]["stance_article"] == 60
    assert model.config["char_wb_ngrams"] == [2, 5]
    predicted = set(model.predictions.values_list("comment_id", flat=True))
    assert predicted == {c.pk for c in tops + replies + unlabelled}
    denied = Prediction.objects.get(labeller=model, comment=unlabelled[0])
    assert denied.answer == "deny" and 0.25 < denied.confidence <= 1
    assert run.done == run.total == 90


def test_each_training_is_a_new_version_taking_over_the_previous_settings(project, labelled):
    train_run(project)
    MachineLabeller.objects.filter(name="learner").update(suggestions="preselect", orders_work=True)

    train_run(project)

    first, second = MachineLabeller.objects.filter(name="learner").order_by("pk")
    assert (first.version, second.version) == ("1", "2")
    assert (second.suggestions, second.orders_work, first.orders_work) == ("preselect", True, False)
    assert first.predictions.count() == second.predictions.count() == 90


def test_gold_labels_win_over_the_annotators_majority(project, labelled, reviewer):
    tops, _, _ = labelled
    make_gold_label(tops[0], reviewer, {"stance_article": "query"})
    scheme = current_scheme_for(project).scheme

    settled = dict(settled_labels(project, scheme))

    assert settled[tops[0].pk] == {"stance_article": "query"}
    assert settled[tops[1].pk] == {"stance_article": "deny"}


def test_a_run_with_nothing_to_learn_from_fails_and_says_why(project):
    make_comment(ArticleFactory(project=project))

    run = train_run(project)

    assert run.status == "failed"
    assert "Nothing to learn from" in run.error
    assert not MachineLabeller.objects.filter(project=project).exists()


def test_a_run_where_no_question_has_enough_labels_names_each_reason(project, annotator):
    comment = make_comment(ArticleFactory(project=project))
    make_label(comment, annotator, {"stance_article": "deny"})

    run = train_run(project)

    assert run.status == "failed"
    assert "stance_article: Only 1 label:" in run.error


def test_a_run_that_breaks_while_predicting_leaves_no_half_version(project, labelled, monkeypatch):
    from annotator.assist import learner_runs

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(learner_runs, "write_predictions", broken)

    run = train_run(project)

    assert run.status == "failed"
    assert not MachineLabeller.objects.filter(project=project).exists()
    assert PredictionRun.objects.filter(pk=run.pk).exists()


# --- Retraining when enough new labels arrived -------------------------------------------


@override_settings(LEARNER_RETRAIN_AFTER=5)
def test_retrain_learners_queues_training_where_enough_new_labels_arrived(
    project, labelled, annotator, capsys, django_capture_on_commit_callbacks
):
    train_run(project)
    call_command("retrain_learners")
    assert "No learner has enough new labels." in capsys.readouterr().out

    _, replies, _ = labelled
    for reply in replies[:5]:
        make_label(reply, annotator, {"stance_article": "deny"})
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retrain_learners")

    assert "aleppo: training run" in capsys.readouterr().out
    assert MachineLabeller.objects.filter(name="learner").count() == 2


@override_settings(LEARNER_RETRAIN_AFTER=5)
def test_the_models_page_queues_retraining_once(
    project, labelled, annotator, client, project_admin
):
    train_run(project)
    _, replies, _ = labelled
    for reply in replies[:5]:
        make_label(reply, annotator, {"stance_article": "deny"})
    client.force_login(project_admin)

    client.get(reverse("assist:model_list", args=[project.slug]))
    client.get(reverse("assist:model_list", args=[project.slug]))

    assert PredictionRun.objects.filter(kind="train", status="queued").count() == 1


def test_no_learner_means_no_retraining(project, labelled):
    from annotator.assist.retraining import queue_if_due

    assert queue_if_due(project) is None


# --- The page -------------------------------------------------------------------------


def test_an_admin_starts_training_and_lands_on_the_run(
    client, project, project_admin, labelled, django_capture_on_commit_callbacks
):
    client.force_login(project_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("assist:train_learner", args=[project.slug]))

    run = PredictionRun.objects.get(kind="train")
    assert response.status_code == 302
    assert response["Location"] == reverse("assist:run_detail", args=[project.slug, run.pk])
    run.refresh_from_db()
    assert run.status == "succeeded" and run.created_by == project_admin


def test_a_second_request_while_training_goes_to_the_run_under_way(client, project, project_admin):
    running = PredictionRun.objects.create(project=project, kind="train", status="running")
    client.force_login(project_admin)

    response = client.post(reverse("assist:train_learner", args=[project.slug]))

    assert response["Location"] == reverse("assist:run_detail", args=[project.slug, running.pk])
    assert PredictionRun.objects.count() == 1


def test_the_models_page_shows_the_learners_quality_honestly_and_escaped(
    client, project, project_admin, researcher
):
    make_model(
        project,
        "learner",
        kind="learner",
        quality={
            "stance_article": {
                "macro_f1": 0.4123,
                "accuracy": 0.61,
                "labels": 41,
                "classes": {"deny": 30, "support": 11},
                "folds": 5,
                "too_few": True,
                "warning": "learned from 41 labels <script>",
            },
            "claim_type": {"skipped": "Only 3 labels: too few to learn from.", "labels": 3},
        },
    )
    client.force_login(project_admin)

    page = client.get(reverse("assist:model_list", args=[project.slug])).content.decode()

    assert "Train the learner" in page
    assert "0.41" in page and "0.61" in page and "Too few labels to trust" in page
    assert "Not learned: Only 3 labels" in page
    assert "&lt;script&gt;" in page and "labels <script>" not in page
    client.force_login(researcher)
    assert (
        "Train the learner"
        not in client.get(reverse("assist:model_list", args=[project.slug])).content.decode()
    )


def test_character_ngrams_by_word_equal_sklearns_char_wb():
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["Hello  World, hello!", "ÄÖ ü   x", "", "a b c dd", "Liar!\tliar\npants"]
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    expected = reference.fit_transform(texts).toarray()
    ours = learner.CharNgrams((2, 5), 10_000)
    got = ours.fit_transform(texts).toarray()

    assert set(ours.vocabulary_) == set(reference.vocabulary_)
    order = [
        ours.vocabulary_[g] for g in sorted(reference.vocabulary_, key=reference.vocabulary_.get)
    ]
    assert np.allclose(got[:, order], expected, atol=1e-6)
    assert np.allclose(ours.transform(texts).toarray()[:, order], expected, atol=1e-6)


def test_hashed_word_ngrams_equal_sklearns_tfidf_of_words_and_pairs_seen_twice():
    import numpy as np
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer

    texts = ["the cat sat", "The cat ran", "a dog sat", "the cat sat down", "dog", "", "a dog"]
    reference = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    expected = reference.fit_transform(texts).toarray()
    ours = learner.WordNgrams(max_features=1000)
    got = ours.fit_transform(texts).toarray()

    assert ours.size == len(reference.vocabulary_)  # the, cat, sat, a, dog, the cat, cat sat, a dog
    column_of = dict(zip(ours.columns, range(ours.size), strict=True))
    grams = list(reference.vocabulary_)
    one_gram_each = HashingVectorizer(
        analyzer=lambda gram: [gram], n_features=learner.HASHED_COLUMNS, alternate_sign=False
    )
    order = [column_of[column] for column in one_gram_each.transform(grams).indices]
    by_reference = [reference.vocabulary_[g] for g in grams]
    assert np.allclose(got[:, order], expected[:, by_reference], atol=1e-6)
    assert np.allclose(ours.transform(texts).toarray()[:, order], expected[:, by_reference])
    assert learner.WordNgrams(max_features=3).fit_transform(texts).shape == (7, 3)
