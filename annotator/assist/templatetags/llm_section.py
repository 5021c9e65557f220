"""What the models page's LLM section shows, without the page's view knowing about it:
the project's LLM models with whether each key's variable is set, and the two forms."""

from __future__ import annotations

from django import template

from annotator.assist.llm_forms import LLMModelForm, LLMRunForm
from annotator.assist.llm_models import key_is_set, llm_models
from annotator.corpus.models import Project

register = template.Library()


@register.simple_tag
def llm_section(project: Project) -> dict:
    """The LLM models (newest versions, one query) and the forms, for ``_llm_section.html``."""
    models = llm_models(project)
    for labeller in models:
        labeller.key_is_set = key_is_set(labeller.config.get("api_key_env", ""))
    run_form = LLMRunForm(prefix="llmrun", project=project)
    run_form.fields["model"].choices = [(m.pk, m.label) for m in models]  # no second query
    return {"models": models, "model_form": LLMModelForm(prefix="llm"), "run_form": run_form}
