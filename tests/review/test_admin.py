"""Gold labels in the Django admin: for looking up, with their history, never for editing."""

from django.test import Client
from django.urls import reverse

from annotator.review.gold import save_gold
from annotator.review.models import GoldLabel
from tests.factories import ArticleFactory, UserFactory, make_comment
from tests.review.adjudication_data import TOP, TOP_DENY


def test_staff_look_up_gold_labels_and_their_history_read_only(project, reviewer):
    comment = make_comment(ArticleFactory(project=project))
    save_gold(comment, TOP, reviewer, revision=0)
    gold = save_gold(comment, TOP_DENY, reviewer, revision=1, note="changed my mind")
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    listing = client.get(reverse("admin:review_goldlabel_changelist"))
    assert listing.status_code == 200
    change_url = reverse("admin:review_goldlabel_change", args=[gold.pk])
    page = client.get(change_url).content.decode()
    assert "changed my mind" in page
    assert page.count('class="field-revision"') >= 2  # one row per change
    assert 'name="answers"' not in page  # nothing to edit
    assert client.get(reverse("admin:review_goldlabel_add")).status_code == 403
    client.post(change_url, {"note": "edited"})
    gold.refresh_from_db()
    assert gold.note == "changed my mind"
    assert client.get(reverse("admin:review_goldlabel_delete", args=[gold.pk])).status_code == 403
    assert GoldLabel.objects.count() == 1
