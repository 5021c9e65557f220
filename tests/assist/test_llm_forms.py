"""The LLM section's forms (llm_forms.py): what a base URL may be, what a run chooses."""

from __future__ import annotations

import pytest
from django import forms

from annotator.assist.llm_forms import LLMRunForm, check_base_url
from tests.factories import ArticleFactory


@pytest.mark.parametrize(
    "url, stored",
    [
        ("http://localhost:8000/v1/", "http://localhost:8000/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("http://vllm:8000/v1", "http://vllm:8000/v1"),  # a Docker service's name
        ("http://[::1]:11434/v1", "http://[::1]:11434/v1"),
    ],
)
def test_http_and_https_urls_with_a_host_are_taken(url, stored):
    assert check_base_url(url) == stored


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x/v1",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http:///v1",
        "http://host:port/v1",
        "http://a b/v1",
        "http://u:p@host/v1",
        "http://host/v1#frag",
    ],
)
def test_other_urls_are_refused(url):
    with pytest.raises(forms.ValidationError):
        check_base_url(url)


@pytest.mark.django_db
def test_a_run_over_a_thread_is_chosen_by_the_articles_source_id(project, monkeypatch):
    from tests.factories import make_model

    monkeypatch.setenv("RUN_FORM_KEY", "k")
    model = make_model(project, "llm", kind="llm", config={"api_key_env": "RUN_FORM_KEY"})
    article = ArticleFactory(project=project, source_id="story-7")
    form = LLMRunForm(
        {"model": model.pk, "which": "thread", "thread": "story-7", "limit": "10"},
        project=project,
    )

    assert form.is_valid(), form.errors
    assert form.options() == {"which": "thread", "thread": article.pk, "limit": 10}
