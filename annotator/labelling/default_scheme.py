"""The scheme and guidelines a new project starts with: stance (toward the article and toward
the parent comment), claim type, speculation and source cited.

It follows the public reply-tree corpora that label stance, certainty and evidence together
(PHEME, RumourEval, DAST), so that researchers can compare and convert; see
``docs/scheme.md``. Every question has an explicit "not applicable"-style answer, so an empty
cell in an export always means "not labelled yet".
"""

from __future__ import annotations

from annotator.labelling.scheme import Kind, Scheme, parse_scheme

STANCE_CHOICES = [
    {
        "value": "support",
        "label": "Support",
        "description": "Accepts or argues for the claim.",
        "key": "1",
    },
    {
        "value": "deny",
        "label": "Deny",
        "description": "Disputes or contradicts it.",
        "key": "2",
    },
    {
        "value": "query",
        "label": "Query",
        "description": "Asks for evidence or clarification of its truth.",
        "key": "3",
    },
    {
        "value": "comment",
        "label": "Comment",
        "description": "Neither: own remark, joke, evaluation, off-topic.",
        "key": "4",
    },
]

DEFAULT_SCHEME_DATA: dict = {
    "questions": [
        {
            "key": "stance_article",
            "title": "Stance toward the article",
            "help": "Judge the comment against the article's central claim (after "
            "RumourEval's SDQC).",
            "kind": "single",
            "target": "article",
            "choices": [
                {
                    **STANCE_CHOICES[0],
                    "example": "“I bet US offered something so valuable in "
                    "order to save their CIA agents in Aleppo.” (backs the article's speculation)",
                },
                {**STANCE_CHOICES[1], "example": "“I don't think the Palmyra explanation holds”"},
                {
                    **STANCE_CHOICES[2],
                    "example": "“What is mean everything? Withdraw from Ukraine or Crimea?”",
                },
                {**STANCE_CHOICES[3], "example": "“I think kerry and lavrov are couple ...”"},
            ],
        },
        {
            "key": "stance_parent",
            "title": "Stance toward the parent comment",
            "help": "Same four values, judged against the comment this one replies to. "
            "Asked only for replies.",
            "kind": "single",
            "target": "parent",
            "choices": [
                {**STANCE_CHOICES[0], "example": "“I agree with you.”"},
                {
                    **STANCE_CHOICES[1],
                    "example": "“There is no agreement. Where do you take this stuff from?”",
                },
                STANCE_CHOICES[2],
                STANCE_CHOICES[3],
            ],
        },
        {
            "key": "claim_type",
            "title": "Claim type",
            "help": "The comment's main claim; label the dominant act when a comment does "
            "several things.",
            "kind": "single",
            "choices": [
                {
                    "value": "factual",
                    "label": "Factual",
                    "description": "Something checkable about past or present.",
                    "example": "“Actually the figure says that more than 80% of SAA are sunni.”",
                },
                {
                    "value": "prediction",
                    "label": "Prediction",
                    "description": "Something about the future.",
                    "example": "“I think before the year is over, a full surrender will be "
                    "negotiated”",
                },
                {
                    "value": "opinion",
                    "label": "Opinion",
                    "description": "Value judgement or interpretation that cannot be checked.",
                    "example": "“Lavrov is a progressionist. He is the right person on the "
                    "right place.”",
                },
                {
                    "value": "policy",
                    "label": "Policy",
                    "description": "What should (not) be done; a call to action.",
                    "example": "“I hope lavrov resign, and instead, Zaharova should be appointed”",
                },
                {
                    "value": "personal_experience",
                    "label": "Personal experience",
                    "description": "The commenter's own experience or observation.",
                    "example": "“I noticed that the video clips very frequently have chemical "
                    "weapons ...”",
                },
                {
                    "value": "question",
                    "label": "Question",
                    "description": "Asks rather than asserts.",
                    "example": "“Even if you lose? Doesn't make sense ...”",
                },
                {
                    "value": "no_claim",
                    "label": "No claim",
                    "description": "Thanks, greetings, jokes, insults, meta talk.",
                    "example": "“Thanks for you your reply. We shall get back to you soon... "
                    "BIIP...”",
                },
            ],
        },
        {
            "key": "checkworthy",
            "title": "Check-worthy?",
            "help": "Would a fact-checker want to check it? (after ClaimBuster; only for "
            "factual claims and predictions)",
            "kind": "yes_no",
            "required": False,
            "show_if": {"question": "claim_type", "in": ["factual", "prediction"]},
        },
        {
            "key": "speculation",
            "title": "Speculation",
            "help": "How certain the main claim is put (PHEME certainty, FactBank scale).",
            "kind": "single",
            "choices": [
                {
                    "value": "certain",
                    "label": "Certain",
                    "description": "Asserted without hedging.",
                    "example": "“The rebels are done as a military force, they ain't going "
                    "anywhere”",
                },
                {
                    "value": "somewhat_certain",
                    "label": "Somewhat certain",
                    "description": "Hedged but committed: “I think”, “my read is”, “most likely”.",
                    "example": "“My read is the Russians are stringing the Americans along”",
                },
                {
                    "value": "uncertain",
                    "label": "Uncertain",
                    "description": "Openly speculative: “maybe”, “perhaps”, “I wonder”, “if true”.",
                    "example": "“Perhaps (but I'm speculating) some definitive proof ...”",
                },
                {
                    "value": "not_applicable",
                    "label": "Not applicable",
                    "description": "Nothing to be certain about: questions, thanks, exclamations.",
                },
            ],
        },
        {
            "key": "source_cited",
            "title": "Source cited",
            "help": "How the claim is backed; pick every kind that applies, or “None”.",
            "kind": "multiple",
            "choices": [
                {"value": "link", "label": "Link", "description": "A URL to evidence."},
                {
                    "value": "named_source",
                    "label": "Named source",
                    "description": "Attributes or quotes a named outlet, official, "
                    "organisation or person.",
                    "example": "“From SANA which pretty much just reiterated the RT and TASS "
                    "articles.”",
                },
                {
                    "value": "article",
                    "label": "The article",
                    "description": "Appeals to what the article under discussion says.",
                    "example": "“I think you are misreading the article.”",
                },
                {
                    "value": "unnamed_source",
                    "label": "Unnamed source",
                    "description": "Vague attribution: “the figure says”, “reports say”.",
                    "example": "“the figure says ...”",
                },
                {
                    "value": "first_hand",
                    "label": "First hand",
                    "description": "Own experience or observation.",
                },
                {
                    "value": "media",
                    "label": "Media",
                    "description": "An attached picture or video.",
                },
                {
                    "value": "reasoning",
                    "label": "Reasoning",
                    "description": "Backs the claim by argument only.",
                    "example": "“If Syria continued to wipe the floor in Aleppo, it would "
                    "release lots of resources ...”",
                },
                {
                    "value": "none",
                    "label": "None",
                    "description": "Bare assertion.",
                    "example": "“The ex Yeltsin minister Lavrov plays dirty games behind "
                    "Assad back.”",
                    "exclusive": True,
                    "key": "0",
                },
            ],
        },
    ]
}

RULES = """\
## General rules

- The unit is one whole comment.
- Quotations inside a comment are the commenter's evidence, not the commenter's own claim.
- Sarcasm: stance *Comment*, claim *No claim* or *Opinion*, speculation *Not applicable*.
- A free-text note is always available for doubts; **flag for review** marks a comment you
  could not decide; **skip** (with a reason) a comment you cannot label at all.
- If a comment seems attached to the wrong parent, **report** it: admins fix the tree.
"""


def default_scheme() -> Scheme:
    """The default scheme, parsed (and so checked) like any other."""
    return parse_scheme(DEFAULT_SCHEME_DATA)


def guidelines_from_scheme(scheme: Scheme) -> str:
    """Markdown guidelines written out of a scheme's definitions and examples."""
    lines = [
        "# Annotation guidelines",
        "",
        "Label each comment on every question shown. Press the key beside an answer to pick "
        "it; Enter saves and opens the next comment.",
        "",
    ]
    for number, question in enumerate(scheme.questions, start=1):
        lines.append(f"## {number}. {question.title} (`{question.key}`)")
        lines.append("")
        if question.help:
            lines += [question.help, ""]
        kind = {
            Kind.SINGLE: "Pick one.",
            Kind.MULTIPLE: "Pick every one that applies.",
            Kind.YES_NO: "Yes or no.",
            Kind.TEXT: "Free text.",
        }[question.kind]
        lines += [kind + ("" if question.required else " Optional."), ""]
        for choice in question.choices:
            text = f"- **{choice.label}** (`{choice.value}`, key {choice.key})"
            if choice.description:
                text += f": {choice.description}"
            if choice.example:
                text += f" Example: {choice.example}"
            lines.append(text)
        lines.append("")
    return "\n".join(lines) + RULES
