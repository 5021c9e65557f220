"""In a real browser: an admin sets up a project and fixes a thread; an annotator sees only it."""

import re

from playwright.sync_api import expect

from annotator.corpus.models import Comment, Project, Role
from tests.factories import ArticleFactory, ProjectFactory, UserFactory, make_comment


def test_an_admin_sets_up_a_project_and_an_annotator_sees_only_it(page, login, screenshot):
    admin = UserFactory(username="stella", is_staff=True)
    annotator = UserFactory(username="nina", email="nina@example.org")
    ProjectFactory(name="Somebody else's project", slug="elsewhere")
    # Anything the Content-Security-Policy blocks (inline script or style) shows up here.
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # The admin creates a project; the slug follows the name as it is typed.
    login(admin)
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name").fill("Aleppo ceasefire")
    expect(page.get_by_label("Slug")).to_have_value("aleppo-ceasefire")
    page.get_by_label("Description").fill("Reader comments on the ceasefire reports.")
    screenshot("new-project")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Aleppo ceasefire")).to_be_visible()
    expect(page.get_by_text("You are its admin.")).to_be_visible()
    project = Project.objects.get(slug="aleppo-ceasefire")
    assert project.memberships.get().user == admin

    # ... adds a member (the invitation journey is tests/browser/test_invitations.py).
    project.memberships.create(user=annotator, role=Role.ANNOTATOR)
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("cell", name="nina@example.org")).to_be_visible()
    screenshot("members")

    # ... opens a thread and moves a comment under another with the UI.
    article = ArticleFactory(
        project=project,
        title="Ceasefire holds in Aleppo",
        source="The Daily",
        body="The ceasefire held overnight.\n\nAid convoys are expected on Monday.",
    )
    first = make_comment(article, author="Rami", text="Finally some good news.")
    make_comment(article, first, author="Lina", text="Let's see if it lasts.\nI doubt it.")
    stray = make_comment(article, text="It won't last, as Lina says.")
    page.get_by_role("link", name="Aleppo ceasefire", exact=True).click()
    page.get_by_role("link", name="Ceasefire holds in Aleppo").click()
    expect(page.get_by_role("heading", name="3 comments")).to_be_visible()
    stray_box = page.locator(f"#comment-{stray.pk}")
    stray_box.get_by_role("link", name="Move").click()
    field = stray_box.get_by_label("Answers comment #")
    expect(field).to_be_focused()
    field.fill("2")
    screenshot("move-form")
    stray_box.get_by_role("button", name="Move here").click()
    expect(page.get_by_text("Moved: the comment now answers Lina")).to_be_visible()
    expect(page).to_have_url(re.compile(f"#comment-{stray.pk}$"))
    expect(page.locator(f"#comment-{stray.pk}")).to_contain_text("answers #2")
    expect(page.locator(f"#comment-{stray.pk}")).to_have_class(re.compile("indent-2"))
    screenshot("thread")
    stray.refresh_from_db()
    assert stray.parent.author == "Lina"
    assert list(Comment.objects.thread(article).values_list("author", flat=True)) == [
        "Rami",
        "Lina",
        "",
    ]

    # The admin logs out; the annotator logs in and sees only that project.
    page.get_by_role("button", name="Log out").click()
    login(annotator)
    rows = page.locator("table.table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Aleppo ceasefire")
    expect(rows.first).to_contain_text("Annotator")
    expect(page.get_by_text("Somebody else's project")).to_have_count(0)
    expect(page.get_by_role("link", name="New project")).to_have_count(0)
    screenshot("annotator-projects")
    page.get_by_role("link", name="Aleppo ceasefire").click()
    expect(page.get_by_role("link", name="Members")).to_have_count(0)
    page.get_by_role("link", name="Ceasefire holds in Aleppo").click()
    expect(page.get_by_role("link", name="Move")).to_have_count(0)
    assert console_errors == []


def test_removing_a_member_asks_first_and_the_last_admin_stays(page, login):
    admin = UserFactory(username="stella")
    project = ProjectFactory(name="Aleppo ceasefire", slug="aleppo")
    project.memberships.create(user=admin, role=Role.ADMIN)
    project.memberships.create(user=UserFactory(username="nina"), role=Role.ANNOTATOR)
    login(admin)
    page.goto("/p/aleppo/members/")
    nina_row = page.get_by_role("row").filter(has_text="nina")

    asked: list[str] = []

    def say_no(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", say_no)
    nina_row.get_by_role("button", name="Remove").click()
    assert asked == ["Remove nina from Aleppo ceasefire?"]
    page.wait_for_load_state()
    expect(nina_row).to_be_visible()
    assert project.memberships.filter(user__username="nina").exists()

    page.once("dialog", lambda dialog: dialog.accept())
    nina_row.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Removed nina from the project.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="nina")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("row").filter(has_text="stella").get_by_role("button", name="Remove").click()
    expect(page.get_by_text("they are the project's last admin")).to_be_visible()
    assert project.memberships.filter(user=admin, role=Role.ADMIN).exists()


def test_an_admin_sees_what_a_move_sets_aside_confirms_and_the_export_marks_it_stale(
    page, login, screenshot
):
    import io
    import json

    from annotator.datasets.exporters import jsonl
    from annotator.datasets.options import ExportOptions
    from annotator.datasets.rows import RowSource
    from annotator.labelling.models import Annotation
    from tests.factories import COMPLETE_REPLY, MembershipFactory, make_label

    admin = UserFactory(username="ada")
    project = ProjectFactory(name="Aleppo ceasefire", slug="aleppo")
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    article = ArticleFactory(project=project, title="Ceasefire holds in Aleppo")
    first = make_comment(article, author="Rami", text="Finally some good news.")
    reply = make_comment(article, first, author="Lina", source_id="lina", text="I doubt it.")
    make_comment(article, author="Omar", text="Who will monitor it?")
    for name in ("nina", "otto"):
        person = UserFactory(username=name)
        MembershipFactory(project=project, user=person, role=Role.ANNOTATOR)
        make_label(reply, person, COMPLETE_REPLY)

    login(admin)
    page.goto(f"/p/aleppo/articles/{article.pk}/")
    box = page.locator(f"#comment-{reply.pk}")
    box.get_by_role("link", name="Move").click()
    box.get_by_label("Answers comment #").fill("3")
    box.get_by_role("button", name="Move here").click()
    expect(box.get_by_role("alertdialog")).to_contain_text(
        "Moving #2 under #3 marks 2 answers by 2 annotators as stale; they will be asked again"
    )
    screenshot("confirm-move")
    reply.refresh_from_db()
    assert reply.parent_id == first.pk  # nothing moved before the confirmation

    box.get_by_role("button", name="Confirm move").click()
    expect(page.get_by_text("Moved: the comment now answers Omar")).to_be_visible()
    expect(page.locator(f"#comment-{reply.pk}")).to_contain_text("answers #2")
    reply.refresh_from_db()
    assert reply.parent.author == "Omar"
    for annotation in Annotation.objects.filter(comment=reply):
        assert annotation.stale_answers["stance_parent"]["value"] == "deny"
        assert annotation.status == Annotation.Status.DRAFT
        assert annotation.events.latest("id").actor == admin
    # Once re-answered and submitted, the export carries the old answer as stale.
    Annotation.objects.filter(comment=reply).update(
        answers={**COMPLETE_REPLY, "stance_parent": "support"}, status="submitted"
    )
    out = io.BytesIO()
    jsonl.write(RowSource(project, ExportOptions()), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    record = next(line for line in lines if line.get("id") == "lina")
    for annotation in record["annotations"]:
        assert annotation["answers"]["stance_parent"] == "support"
        assert annotation["stale"]["stance_parent"]["value"] == "deny"
        assert annotation["stale"]["stance_parent"]["answered_toward_parent"] == first.source_id
