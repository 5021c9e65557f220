"""External labels as annotations: matching, the default mapping, writing, history, re-import,
and agreement with the project's own annotators."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from annotator.corpus.importers.loader import import_file
from annotator.datasets.figures import agreement_figures
from annotator.labelling.default_scheme import default_scheme
from annotator.labelling.external_label_sources import read_label_file
from annotator.labelling.external_labels import (
    apply_labels,
    default_target,
    external_annotator,
    is_external,
    normalise,
    parse_target,
    preview_labels,
)
from annotator.labelling.label_counts import recount_everything
from annotator.labelling.models import Annotation, AnnotationEvent, CommentLabelCount
from annotator.labelling.schemes import current_scheme_for
from tests.factories import ArticleFactory, make_comment

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
SOURCE = "552783667052167168"
ANNOTATED = {
    "552784600502915072",
    "552785249420091393",
    "552785375161151488",
    "552786226097389568",
    "552787794503639040",
}


@pytest.fixture
def pheme_project(project):
    """The PHEME-like thread, imported through the canonical JSON Lines like any other."""
    import_file(project, SAMPLES / "pheme_thread.jsonl")
    return project


def preview_of(project, name):
    return preview_labels(project, read_label_file((SAMPLES / name).read_bytes(), name), name)


def ext_annotations(project, name="ext:PHEME"):
    return {
        a.comment.source_id: a.answers
        for a in Annotation.objects.filter(
            project=project, annotator__username=name
        ).select_related("comment")
    }


@pytest.mark.parametrize(
    ("field", "value", "target"),
    [
        ("responsetype-vs-source", "appeal-for-more-information", ("stance_article", "query")),
        ("responsetype-vs-previous", "disagreed", ("stance_parent", "deny")),
        ("SDQC_Submission", "Supporting", ("stance_article", "support")),
        ("SDQC_Parent", "commenting", ("stance_parent", "comment")),
        ("stance", "QUERY", ("stance_article", "query")),
        ("Certainty", "Somewhat certain", ("speculation", "somewhat_certain")),
        ("evidentiality", "url-given", ("source_cited", "link")),
        ("Evidentiality", "First-hand experience", ("source_cited", "first_hand")),
        ("stance_article", "Deny", ("stance_article", "deny")),
        ("certainty", "underspecified", ("speculation", "not_applicable")),
        ("evidentiality", "witnessed", ("source_cited", "first_hand")),
        ("evidentiality", "unverifiable-source-quoted", ("source_cited", "unnamed_source")),
        ("Evidentiality", "URL pointing to evidence", ("source_cited", "link")),
        ("Evidentiality", "Quotation of unverifiable source", ("source_cited", "unnamed_source")),
        ("evidentiality", "underspecified", None),
        ("veracity", "true", None),
        ("support", "supporting", None),
        ("label", "support", None),
        ("tone", "Sarcasm", None),
    ],
)
def test_the_default_mapping_follows_the_table_case_insensitively_and_never_guesses(
    field, value, target
):
    assert default_target(default_scheme(), field, value) == target


def test_a_default_needs_the_question_and_choice_in_the_projects_scheme():
    from annotator.labelling.scheme import parse_scheme

    scheme = parse_scheme(
        {
            "questions": [
                {
                    "key": "stance_article",
                    "title": "S",
                    "kind": "single",
                    "choices": [{"value": "support"}, {"value": "deny"}],
                }
            ]
        }
    )
    assert default_target(scheme, "stance", "deny") == ("stance_article", "deny")
    assert default_target(scheme, "stance", "query") is None
    assert default_target(scheme, "certainty", "certain") is None


def test_normalise_and_parse_target():
    assert normalise(" SDQC_Submission ") == "sdqc-submission"
    scheme = default_scheme()
    assert parse_target("stance_parent=deny", scheme) == ("stance_parent", "deny")
    assert parse_target("-", scheme) is None
    with pytest.raises(ValueError, match="no question=choice"):
        parse_target("stance_parent=maybe", scheme)


def test_the_preview_counts_matches_unknown_comments_and_values(pheme_project):
    preview = preview_of(pheme_project, "pheme_annotations.json")
    assert preview.annotators == {"PHEME": 19}
    assert preview.matched_comments == 5
    # The source tweet is the article, and one reply is not in the thread.
    assert preview.unknown == [SOURCE, "552791196247269376"]
    values = {(v.field, v.value): (v.count, v.default) for v in preview.values}
    assert values[("responsetype-vs-source", "agreed")] == (2, ("stance_article", "support"))
    assert values[("certainty", "underspecified")] == (1, ("speculation", "not_applicable"))
    assert "Comments: 5 matched, 2 not in the project" in "\n".join(preview.lines())
    assert Annotation.objects.count() == 0


def test_it_imports_pheme_labels_as_an_external_annotator_with_history(
    pheme_project, project_admin
):
    result = apply_labels(preview_of(pheme_project, "pheme_annotations.json"), actor=project_admin)
    assert result.annotators["PHEME"].created == 5
    labels = ext_annotations(pheme_project)
    assert labels["552785375161151488"] == {
        "stance_article": "support",
        "stance_parent": "deny",
        "speculation": "certain",
        "source_cited": ["link"],
    }
    assert labels["552786226097389568"] == {
        "stance_article": "support",
        "stance_parent": "support",
        "speculation": "not_applicable",
        "source_cited": ["first_hand"],
    }
    # A top-level reply is asked no stance toward a parent: PHEME's vs-previous is dropped.
    assert labels["552785249420091393"] == {"stance_article": "query"}
    assert result.not_asked == 1
    assert result.unmapped == {}
    annotation = Annotation.objects.get(comment__source_id="552785375161151488")
    assert annotation.status == Annotation.Status.SUBMITTED
    assert annotation.answered_under == dict.fromkeys(annotation.answers, 1)
    (event,) = annotation.events.all()
    assert (event.kind, event.actor, event.before) == ("import", project_admin, None)
    assert event.after["answers"] == annotation.answers


def test_external_annotators_cannot_log_in_and_are_no_members(pheme_project, client):
    apply_labels(preview_of(pheme_project, "pheme_annotations.json"))
    user = get_user_model().objects.get(username="ext:PHEME")
    assert not user.is_active
    assert not user.has_usable_password()
    assert is_external(user)
    assert not user.memberships.exists()
    assert external_annotator("PHEME") == user
    assert not client.login(username="ext:PHEME", password="")


def test_label_counts_stay_what_a_recount_gives(pheme_project):
    apply_labels(preview_of(pheme_project, "pheme_annotations.json"))
    counted = dict(CommentLabelCount.objects.values_list("comment_id", "submitted"))
    recount_everything(pheme_project)
    assert dict(CommentLabelCount.objects.values_list("comment_id", "submitted")) == counted
    assert sorted(counted.values()) == [1] * 5


def test_importing_the_same_file_again_changes_nothing(pheme_project):
    apply_labels(preview_of(pheme_project, "pheme_annotations.json"))
    again = apply_labels(preview_of(pheme_project, "pheme_annotations.json"))
    assert again.annotators["PHEME"].unchanged == 5
    assert again.imported == 0
    assert Annotation.objects.count() == 5
    assert AnnotationEvent.objects.count() == 5


def test_a_changed_mapping_updates_in_place_with_history(pheme_project, project_admin):
    apply_labels(preview_of(pheme_project, "pheme_annotations.json"))
    result = apply_labels(
        preview_of(pheme_project, "pheme_annotations.json"),
        {("responsetype-vs-source", "agreed"): ("stance_article", "comment")},
        actor=project_admin,
    )
    assert result.annotators["PHEME"].updated == 2
    annotation = Annotation.objects.get(comment__source_id="552786226097389568")
    assert annotation.answers["stance_article"] == "comment"
    assert annotation.revision == 2
    last = annotation.events.last()
    assert last.before["answers"]["stance_article"] == "support"
    assert last.after["answers"]["stance_article"] == "comment"


def test_an_annotation_changed_outside_imports_is_never_overwritten(pheme_project):
    apply_labels(preview_of(pheme_project, "pheme_annotations.json"))
    annotation = Annotation.objects.get(comment__source_id="552787794503639040")
    AnnotationEvent.objects.create(
        annotation=annotation, kind="submit", revision=2, before=None, after={"answers": {}}
    )
    result = apply_labels(
        preview_of(pheme_project, "pheme_annotations.json"),
        {("responsetype-vs-source", "disagreed"): ("stance_article", "comment")},
    )
    assert result.kept == 1
    annotation.refresh_from_db()
    assert annotation.answers["stance_article"] == "deny"


def test_rumoureval_and_pheme_are_two_annotators_with_their_agreement(pheme_project, annotator):
    apply_labels(preview_of(pheme_project, "pheme_annotations.json"))
    result = apply_labels(preview_of(pheme_project, "rumoureval_key.json"))
    assert result.annotators["RumourEval"].created == 5
    assert result.unmapped == {}  # the veracity row names the article, not a comment
    scheme = current_scheme_for(pheme_project)
    # An in-project annotator labels two of the comments too.
    for source_id, stance in (("552784600502915072", "comment"), ("552787794503639040", "deny")):
        Annotation.objects.create(
            project=pheme_project,
            comment=pheme_project.articles.get().comments.get(source_id=source_id),
            annotator=annotator,
            scheme=scheme,
            answers={"stance_article": stance},
            status=Annotation.Status.SUBMITTED,
        )
    figures = agreement_figures(pheme_project, resamples=10)
    row = next(r for r in figures.table if r.question == "stance_article" and r.subset == "all")
    pairs = {
        frozenset(get_user_model().objects.get(pk=pk).username for pk in (p.a, p.b)): p
        for p in row.pairs
    }
    pheme_vs_rumoureval = pairs[frozenset({"ext:PHEME", "ext:RumourEval"})]
    assert pheme_vs_rumoureval.percent.units == 5
    assert pheme_vs_rumoureval.percent.value == 1.0
    assert pairs[frozenset({"ext:PHEME", annotator.username})].percent.units == 2


def test_ambiguous_ids_are_reported_and_the_article_id_settles_them(project):
    for source_id in ("a1", "a2"):
        make_comment(ArticleFactory(project=project, source_id=source_id), source_id="c-1")
    preview = preview_labels(
        project,
        read_label_file(b'{"c-1": "deny"}', "key.json"),
        "key.json",
    )
    assert preview.ambiguous == ["c-1"]
    assert apply_labels(preview).imported == 0
    dast = (
        b'{"redditSubmission": {"submission_id": "a2"}, "branches": [[{"comment": '
        b'{"comment_id": "c-1", "SDQC_Submission": "Denying"}}]]}'
    )
    result = apply_labels(preview_labels(project, read_label_file(dast, "d.json"), "d.json"))
    assert result.annotators["DAST"].created == 1
    assert Annotation.objects.get().comment.article.source_id == "a2"


def test_label_studio_choices_map_by_the_admins_choice(project):
    article = ArticleFactory(project=project, source_id="labelstudio_export")
    for task in ("4101", "4102"):
        make_comment(article, source_id=task)
    preview = preview_of(project, "labelstudio_export.json")
    result = apply_labels(
        preview,
        {
            ("stance", "Support"): ("stance_article", "support"),
            ("stance", "Deny"): ("stance_article", "deny"),
            ("stance", "Comment"): ("stance_article", "comment"),
        },
    )
    # source_cited values are named like the scheme's, so they map by default.
    assert ext_annotations(project, "ext:labelstudio:alice@example.org") == {
        "4101": {"stance_article": "support", "source_cited": ["link", "named_source"]},
        "4102": {"stance_article": "deny"},
    }
    assert ext_annotations(project, "ext:labelstudio:5") == {"4101": {"stance_article": "comment"}}
    assert result.unmapped == {("tone", "Sarcasm"): 1}


def test_doccano_spans_keep_their_offsets_in_the_note(project):
    article = ArticleFactory(project=project)
    make_comment(article, source_id="3")
    preview = preview_labels(
        project,
        read_label_file(b'{"id": 3, "data": "x", "label": [[0, 8, "deny"]]}\n', "d.jsonl"),
        "d.jsonl",
    )
    apply_labels(preview, {("label", "deny"): ("stance_article", "deny")})
    annotation = Annotation.objects.get()
    assert annotation.answers == {"stance_article": "deny"}
    assert annotation.note == "span 0-8 deny"


def test_two_values_for_one_single_choice_question_are_left_out(project):
    article = ArticleFactory(project=project)
    make_comment(article, source_id="1")
    content = b'{"id": 1, "text": "x", "label": ["support", "deny"]}\n'
    preview = preview_labels(project, read_label_file(content, "d.jsonl"), "d.jsonl")
    result = apply_labels(
        preview,
        {
            ("label", "support"): ("stance_article", "support"),
            ("label", "deny"): ("stance_article", "deny"),
        },
    )
    assert result.conflicting == 1
    assert Annotation.objects.count() == 0


def test_external_annotations_are_exported_under_their_names(pheme_project):
    from annotator.datasets.options import ExportOptions
    from annotator.datasets.rows import iter_comment_rows

    apply_labels(preview_of(pheme_project, "pheme_annotations.json"))
    rows = {row.comment_id: row for row in iter_comment_rows(pheme_project, ExportOptions())}
    [annotation] = rows["552785375161151488"].annotations
    assert annotation.annotator == "ext:PHEME"
    assert annotation.answers["stance_parent"] == "deny"
