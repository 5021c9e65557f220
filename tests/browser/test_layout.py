"""In a real browser at 768x1024 (a tablet): no page of the app is wider than the viewport.

Every page is visited once, in one browser context, with data that fills its tables (six
annotators with long names, long titles and texts, disagreements, imports, exports, tokens)
and as a role that sees all of it. A page that is too wide is named with the elements that
stick out. Add a page to ``PAGES``: a name, a URL with ``{placeholders}`` from
``layout_data`` and the status it answers with.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotator.accounts.invitations import invite
from annotator.assist.models import PredictionFailure, PredictionRun
from annotator.corpus.models import Comment, ImportJob, Role
from annotator.datasets.jobs import start_export
from annotator.datasets.options import ExportFormat, ExportOptions
from annotator.labelling.models import Guidelines
from annotator.labelling.reports import report_wrong_parent
from tests.browser.conftest import log_in_on
from tests.factories import (
    COMPLETE_REPLY,
    COMPLETE_TOP_LEVEL,
    ArticleFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    label_in_bulk,
    make_comment,
    make_gold_label,
    make_model,
    make_prediction,
    make_token,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VIEWPORT = {"width": 768, "height": 1024}

# (what the page is, its URL, the status it answers with). Placeholders: see layout_data.
PAGES: list[tuple[str, str, int]] = [
    ("project list", "/", 200),
    ("new project", "/projects/new/", 200),
    ("project detail", "/p/{slug}/", 200),
    ("members", "/p/{slug}/members/", 200),
    ("imports list", "/p/{slug}/imports/", 200),
    ("import preview", "/p/{slug}/imports/{preview_job}/", 200),
    ("import detail", "/p/{slug}/imports/{done_job}/", 200),
    ("article thread", "/p/{slug}/articles/{article}/", 200),
    ("thread labels", "/p/{slug}/articles/{article}/labels/", 200),
    ("workspace, top-level comment", "/p/{slug}/label/{top}/", 200),
    ("workspace, deep reply", "/p/{slug}/label/{reply}/", 200),
    ("all done", "/p/{empty_slug}/label/", 200),
    ("assignments", "/p/{slug}/assignments/", 200),
    ("guidelines", "/p/{slug}/guidelines/", 200),
    ("guidelines editor", "/p/{slug}/guidelines/edit/", 200),
    ("scheme editor", "/p/{slug}/scheme/", 200),
    ("reports", "/p/{slug}/reports/", 200),
    ("review queue", "/p/{slug}/review/", 200),
    ("adjudication", "/p/{slug}/review/{disputed}/", 200),
    ("dashboard", "/p/{slug}/dashboard/", 200),
    ("exports list", "/p/{slug}/exports/", 200),
    ("models", "/p/{slug}/models/", 200),
    ("model run", "/p/{slug}/models/runs/{run}/", 200),
    ("export detail", "/p/{slug}/exports/{export}/", 200),
    ("API tokens", "/api/tokens/", 200),
    ("password change", "/accounts/password/", 200),
    ("people (site admins)", "/accounts/people/", 200),
    ("invitation, logged in", "{invitation}", 200),
    ("import preview, links to check", "/p/{slug}/imports/{preview_job}/?show=unsure", 200),
    ("403, role too weak", "/p/{empty_slug}/members/", 403),
    ("404, unknown address", "/no/such/page/", 404),
    ("404, comment in another project", "/p/{empty_slug}/comments/{top}/", 404),
]
# Seen before logging in.
LOGGED_OUT_PAGES: list[tuple[str, str, int]] = [
    ("login", "/accounts/login/", 200),
    ("invitation, logged out", "{invitation}", 200),
]

LONG = "annotator_with_a_rather_long_username_"
TEXT = (
    "I read the whole statement twice and it still does not say who monitors the ceasefire, "
    "see https://example.org/a/very/long/address/that/never/breaks/on/its/own/accord/at/all "
)

# The outermost elements that stick out past the right edge of the viewport, widest first.
# What scrolls inside a container of its own (overflow-x: auto) that fits does not count, as
# it does not widen the page.
WIDEST = """() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width) return null;
  const sticksOut = (el) => el.getBoundingClientRect().right > width + 1;
  // Clipped by a scrolling ancestor that fits; an absolutely positioned element only by one
  // at or above its containing block.
  const contained = (el) => {
    const position = getComputedStyle(el).position;
    if (position === 'fixed') return false;
    let block = position === 'absolute' ? el.offsetParent : null;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (block && up !== block) continue;
      block = null;
      if (getComputedStyle(up).overflowX !== 'visible' && !sticksOut(up)) return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + [...el.classList].map((c) => '.' + c).join('');
  const offenders = new Set(
    [...document.body.querySelectorAll('*')].filter((el) => sticksOut(el) && !contained(el))
  );
  const out = [...offenders]
    .filter((el) => !offenders.has(el.parentElement))
    .map((el) => [el, el.getBoundingClientRect().right])
    .sort((a, b) => b[1] - a[1]);
  return {
    scrollWidth: document.documentElement.scrollWidth,
    width,
    widest: out.slice(0, 3).map(([el, right]) => `${name(el)} (right edge ${Math.round(right)}px)`),
  };
}"""


def layout_data(settings, tmp_path) -> tuple:
    """A project as full as a busy one: returns its admin (staff, so every page is open to
    them) and the values for the URLs of ``PAGES``."""
    settings.MEDIA_ROOT = tmp_path / "media"
    project = ProjectFactory(
        name="Aleppo ceasefire coverage and reader reactions", slug="aleppo-ceasefire"
    )
    empty = ProjectFactory(name="Other newsroom with nothing yet", slug="other-newsroom")
    admin = UserFactory(username=f"{LONG}admin", is_staff=True)
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    MembershipFactory(project=empty, user=admin, role=Role.ANNOTATOR)
    people = []
    for index in range(6):
        person = UserFactory(username=f"{LONG}{index:02d}")
        MembershipFactory(project=project, user=person, role=Role.ANNOTATOR)
        people.append(person)
    for role in (Role.REVIEWER, Role.RESEARCHER):
        MembershipFactory(project=project, user=UserFactory(username=f"{LONG}{role}"), role=role)

    article = ArticleFactory(
        project=project,
        title="Ceasefire in Aleppo holds for a second night as convoys wait at the checkpoints",
        body=("A long lede about the ceasefire and the convoys. " * 12 + "\n\n") * 3,
    )
    comments = []
    parent = None
    for index in range(14):
        if index % 4 == 0:
            parent = None
        comment = make_comment(article, parent, author=f"reader_{index}_{LONG}", text=TEXT * 3)
        comments.append(comment)
        parent = comment
    stances = ["support", "deny", "query", "comment"]

    def answers_for(index, comment, person):
        answers = {
            **(COMPLETE_REPLY if comment.parent_id else COMPLETE_TOP_LEVEL),
            "stance_article": stances[(index + people.index(person)) % 4],
        }
        if comment.parent_id:
            answers["stance_parent"] = stances[(index * 3 + people.index(person)) % 4]
        return answers

    label_in_bulk(comments[:-2], people, answers_for)
    make_gold_label(comments[1], admin, COMPLETE_REPLY)
    report_wrong_parent(comments[3], people[0], "article", note="It answers the article. " * 8)
    Guidelines.objects.update_or_create(
        project=project, defaults={"text": "# Stance\n\n" + "Label the stance carefully. " * 40}
    )

    client = Client()
    client.force_login(admin)
    seed = (FIXTURES / "seed_thread.txt").read_bytes()
    sample = (FIXTURES / "samples" / "thread.jsonl").read_bytes()
    for name, content in [("thread.jsonl", sample), ("seed_thread_scraped_text.txt", seed)]:
        response = client.post(
            f"/p/{project.slug}/imports/",
            {"file": SimpleUploadedFile(name, content), "format": "auto"},
        )
        assert response.status_code == 302, response.content.decode()[:500]
    preview = ImportJob.objects.get(status=ImportJob.Status.PREVIEW)
    done = ImportJob.objects.get(status=ImportJob.Status.SUCCEEDED)
    export = start_export(project, admin, ExportOptions(format=ExportFormat.CSV))
    make_token(admin, name="nightly export script on the research server " * 2)
    invitation = invite(project, f"{LONG}newcomer@example.org", Role.ANNOTATOR, admin)
    deepest = Comment.objects.filter(article=article).order_by("-depth").first()
    model = make_model(
        project, f"{LONG}model", version="2026-12-02-finetuned", suggestions="preselect"
    )
    make_prediction(model, comments[0], "stance_article", "deny", 0.42)
    make_prediction(model, comments[0], "source_cited", ["named_source", "link"], 0.9)
    run = PredictionRun.objects.create(
        project=project, labeller=model, kind="llm", status="failed", error=TEXT * 2
    )
    for comment in comments[:3]:
        PredictionFailure.objects.create(
            labeller=model, run=run, comment=comment, reason=TEXT, raw_response=TEXT * 4
        )
    return admin, {
        "slug": project.slug,
        "empty_slug": empty.slug,
        "article": article.pk,
        "top": comments[0].pk,
        "reply": deepest.pk,
        "disputed": comments[2].pk,
        "preview_job": preview.pk,
        "done_job": done.pk,
        "export": export.pk,
        "run": run.pk,
        "invitation": invitation.get_absolute_url(),
    }


def too_wide(page, pages, values) -> list[str]:
    """Visit ``pages`` in turn; one line for each page wider than the viewport (or answering
    with the wrong status)."""
    problems = []
    for name, url_pattern, status in pages:
        url = url_pattern.format(**values)
        response = page.goto(url)
        page.wait_for_load_state("networkidle")
        if response is None or response.status != status:
            problems.append(f"{name} ({url}): status {response and response.status}, not {status}")
            continue
        unlabelled = page.locator(".table-scroll:not([tabindex='0'][role='region'][aria-label])")
        if unlabelled.count():
            problems.append(f"{name} ({url}): a scrolling table is no labelled, focusable region")
        found = page.evaluate(WIDEST)
        if found:
            problems.append(
                f"{name} ({url}): {found['scrollWidth']}px wide at {found['width']}px; "
                f"sticking out: {', '.join(found['widest']) or 'nothing measurable'}"
            )
    return problems


@pytest.mark.django_db(transaction=True)
def test_no_page_is_wider_than_a_tablet(
    browser, live_server, live_server_requests, settings, tmp_path
):
    from tests.browser.conftest import close_quietly, track_requests

    admin, values = layout_data(settings, tmp_path)
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    pending = track_requests(context)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        problems = too_wide(page, LOGGED_OUT_PAGES, values)
        log_in_on(page, admin)
        problems += too_wide(page, PAGES, values)
    finally:
        close_quietly(context, pending, live_server_requests)
    assert not problems, "\n".join(["Pages wider than 768 px:", *problems])
