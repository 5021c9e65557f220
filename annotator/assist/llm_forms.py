"""Forms of the models page's LLM section: an endpoint's settings, and a run's comments."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms

from annotator.assist.llm_models import key_is_set
from annotator.assist.llm_runs import ENV_NAME_PATTERN, MAX_CONCURRENCY, Which
from annotator.assist.models import NAME_PATTERN, MachineLabeller
from annotator.corpus.models import Article, Project

MAX_REQUEST_CAP = 1_000_000


def check_base_url(value: str) -> str:
    """An http(s) URL with a host and no credentials in it (a key belongs in the
    environment, not in a URL stored in the database). Single-label hosts (a Docker
    service such as ``http://vllm:8000/v1``) are allowed, unlike Django's URLValidator."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        raise forms.ValidationError("Enter the URL before /chat/completions.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise forms.ValidationError("The base URL must be http:// or https:// with a host.")
    if parts.username or parts.password:
        raise forms.ValidationError(
            "Leave credentials out of the URL: name the environment variable with the key."
        )
    if any(c.isspace() for c in value) or parts.fragment:
        raise forms.ValidationError("Enter the URL before /chat/completions.")
    return value.rstrip("/")


class LLMModelForm(forms.Form):
    """An OpenAI-compatible endpoint as a model; the key's variable name, never the key."""

    name = forms.CharField(max_length=80, help_text="Letters, digits, '.', '_' and '-'.")
    base_url = forms.CharField(
        label="Base URL", max_length=500, help_text="The URL before /chat/completions."
    )
    model = forms.CharField(label="Model name", max_length=200)
    api_key_env = forms.CharField(
        label="Environment variable with the API key",
        max_length=100,
        help_text="Its name, e.g. OPENAI_API_KEY; the key stays in the server's environment.",
    )
    temperature = forms.FloatField(min_value=0, max_value=2, initial=0)
    concurrency = forms.IntegerField(
        min_value=1, max_value=MAX_CONCURRENCY, initial=4, help_text="Requests at once."
    )
    request_cap = forms.IntegerField(
        label="Request cap", min_value=1, max_value=MAX_REQUEST_CAP, initial=1000,
        help_text="At most this many requests per run, retries included.",
    )  # fmt: skip

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not NAME_PATTERN.match(name):
            raise forms.ValidationError("Use letters, digits, '.', '_' and '-' (at most 80).")
        return name

    def clean_base_url(self) -> str:
        return check_base_url(self.cleaned_data["base_url"])

    def clean_model(self) -> str:
        model = self.cleaned_data["model"].strip()
        if not model or any(c.isspace() or not c.isprintable() for c in model):
            raise forms.ValidationError("Enter the model's name without spaces.")
        return model

    def clean_api_key_env(self) -> str:
        name = self.cleaned_data["api_key_env"].strip()
        if not ENV_NAME_PATTERN.match(name):
            raise forms.ValidationError(
                "Enter the variable's name: capital letters, digits and '_', e.g. OPENAI_API_KEY."
            )
        return name

    def config(self) -> dict:
        """What ``MachineLabeller.config`` stores (see llm_runs.EndpointSettings)."""
        data = self.cleaned_data
        return {
            "base_url": data["base_url"],
            "model": data["model"],
            "api_key_env": data["api_key_env"],
            "temperature": data["temperature"],
            "concurrency": data["concurrency"],
            "request_cap": data["request_cap"],
        }


class LLMRunForm(forms.Form):
    """Which comments an LLM model labels in one run."""

    model = forms.ModelChoiceField(queryset=MachineLabeller.objects.none(), empty_label=None)
    which = forms.ChoiceField(label="Comments", choices=Which.CHOICES, initial=Which.UNLABELLED)
    thread = forms.CharField(
        label="Thread", required=False, max_length=255, help_text="The article's source id."
    )
    limit = forms.IntegerField(
        label="At most", required=False, min_value=1, max_value=MAX_REQUEST_CAP,
        help_text="comments (empty: all chosen).",
    )  # fmt: skip

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["model"].queryset = (
            MachineLabeller.objects.filter(project=project)
            .newest()
            .filter(kind=MachineLabeller.Kind.LLM)
        )
        self.fields["model"].label_from_instance = lambda labeller: labeller.label

    def clean(self) -> dict:
        data = super().clean()
        if data.get("which") == Which.THREAD:
            article = (
                Article.objects.filter(project=self.project, source_id=data.get("thread", ""))
                .only("pk")
                .first()
            )
            if article is None:
                self.add_error("thread", "No thread of this project has that source id.")
            else:
                data["article_id"] = article.pk
        labeller = data.get("model")
        if labeller is not None:
            env = labeller.config.get("api_key_env", "")
            if not key_is_set(env):
                self.add_error(
                    "model",
                    f"The environment variable {env or '(none)'} with the API key is not set "
                    "on the server.",
                )
        return data

    def options(self) -> dict:
        """``PredictionRun.options`` for llm_runs.chosen_comment_ids."""
        data = self.cleaned_data
        options: dict = {"which": data["which"]}
        if data["which"] == Which.THREAD:
            options["thread"] = data["article_id"]
        if data.get("limit"):
            options["limit"] = data["limit"]
        return options
