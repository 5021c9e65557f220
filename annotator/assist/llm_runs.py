"""An LLM run: one prompt per chosen comment to an OpenAI-compatible chat-completions
endpoint (a hosted API, or vLLM, llama.cpp server, Ollama ...), the replies checked and
stored as predictions or, when they do not fit the scheme, as failures with the raw text.

Requests go out from a thread pool of the model's ``concurrency``, kept full by a window
of prepared prompts, because an endpoint's latency, not our work, is what takes the time.
Only the main thread touches the database: it reads the comments in chunks, writes the
results in batches and beats the run's heartbeat, so the workers need no connection.

The client's own retries are off (``max_retries=0``): ours retry 429, 5xx, timeouts and
lost connections with exponential backoff and jitter, honour ``Retry-After``, and count
every attempt against the run's cap on requests. A missing API key, a refused key (401,
403), an unknown model or route (404) or an endpoint that cannot be reached fail the run
with a message that names the environment variable, never the key.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice

import openai
from django.db import models, transaction

from annotator.assist.answers import CheckedAnswer, PredictionError
from annotator.assist.llm_prompt import (
    PROMPT_VERSION,
    REPLY_LENGTH,
    CommentContext,
    build_messages,
    parse_reply,
    response_format,
    system_message,
)
from annotator.assist.models import MachineLabeller, Prediction, PredictionFailure, PredictionRun
from annotator.assist.predictions import PredictionItem, write_predictions
from annotator.assist.runs import RunFailed, beat, finish
from annotator.assist.uncertainty import refresh_after_predictions
from annotator.corpus.models import Comment, ancestor_paths
from annotator.labelling.models import Guidelines
from annotator.labelling.schemes import current_scheme_for

logger = logging.getLogger(__name__)

ENV_NAME_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
MAX_CONCURRENCY = 32
MAX_ATTEMPTS = 5  # per comment: the first request and four retries
BACKOFF_BASE = 0.5  # seconds before the first retry; doubles with each
BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 60.0
READ_CHUNK = 200  # comments read per query
WRITE_BATCH = 100  # results written per transaction
BEAT_EVERY = 1.0  # seconds between heartbeats at most
PARENT_DEPTH = 3  # nearest ancestors read per comment (llm_prompt.PARENT_COUNT)


class Which:
    """Which comments a run labels (``run.options["which"]``)."""

    UNLABELLED = "unlabelled"  # those this model version has no prediction for
    ALL = "all"
    THREAD = "thread"  # one article's (``run.options["thread"]``: its id)
    CHOICES = [
        (UNLABELLED, "Comments this model has not labelled"),
        (ALL, "All comments"),
        (THREAD, "The comments of one thread"),
    ]


@dataclass(frozen=True)
class EndpointSettings:
    """What ``MachineLabeller.config`` says about an LLM endpoint (no key: its name)."""

    base_url: str
    model: str
    api_key_env: str
    temperature: float = 0.0
    concurrency: int = 4
    request_cap: int = 1000
    timeout: float = 60.0

    @classmethod
    def from_config(cls, config: dict) -> EndpointSettings:
        """The settings of a model's ``config``; ``RunFailed`` when they cannot be used."""
        try:
            settings = cls(
                base_url=str(config["base_url"]),
                model=str(config["model"]),
                api_key_env=str(config["api_key_env"]),
                temperature=float(config.get("temperature", 0.0)),
                concurrency=int(config.get("concurrency", 4)),
                request_cap=int(config.get("request_cap", 1000)),
                timeout=float(config.get("timeout", 60.0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RunFailed(f"The model's endpoint settings are incomplete ({error}).") from None
        if not settings.base_url.startswith(("http://", "https://")):
            raise RunFailed("The endpoint's base URL must start with http:// or https://.")
        if not ENV_NAME_PATTERN.match(settings.api_key_env):
            raise RunFailed("The name of the API key's environment variable is not valid.")
        if not 1 <= settings.concurrency <= MAX_CONCURRENCY or settings.request_cap < 1:
            raise RunFailed(f"Concurrency must be 1 to {MAX_CONCURRENCY}, the cap at least 1.")
        return settings

    def api_key(self) -> str:
        """The key from the environment; ``RunFailed`` naming the variable when unset."""
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise RunFailed(
                f"The environment variable {self.api_key_env}, which should hold the "
                "endpoint's API key, is not set on the server."
            )
        return key


@dataclass(frozen=True)
class Outcome:
    """What became of one comment: checked answers, a failure, or not asked (stopped)."""

    comment_id: int
    answers: Sequence[CheckedAnswer] = ()
    reason: str = ""
    raw: str = ""
    asked: bool = True


class Stopped(Exception):
    """No more requests: the cap was reached, the run failed or was stopped."""


class Endpoint:
    """Sends chat completions with our retries, the request cap and a stop shared by all
    worker threads (the client is thread-safe; the counters are under a lock)."""

    def __init__(self, settings: EndpointSettings, api_key: str, cap: int):
        self.settings = settings
        self.cap = cap
        self.requests = 0
        self.capped = False
        self.fatal = ""
        self.use_schema = True
        self.stop = threading.Event()
        self._key = api_key
        self._lock = threading.Lock()
        self.client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=api_key,
            timeout=settings.timeout,
            max_retries=0,
        )

    def scrub(self, text: str) -> str:
        """``text`` without the key (a server may echo part of it back)."""
        return text.replace(self._key, "***") if self._key else text

    def fail_run(self, message: str) -> None:
        with self._lock:
            self.fatal = self.fatal or self.scrub(message)
        self.stop.set()

    def _reserve(self) -> None:
        with self._lock:
            if self.stop.is_set():
                raise Stopped
            if self.requests >= self.cap:
                self.capped = True
                self.stop.set()
                raise Stopped
            self.requests += 1

    def complete(self, messages: list[dict], schema: dict) -> str:
        """The reply's text; ``Stopped`` when no request may go out, ``PredictionError``
        when this comment cannot be answered (retries spent, a refused request)."""
        last = "No answer."
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._reserve()
            extra = {"response_format": schema} if self.use_schema else {}
            try:
                response = self.client.chat.completions.create(
                    model=self.settings.model,
                    messages=messages,
                    temperature=self.settings.temperature,
                    **extra,
                )
            except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
                self.fail_run(
                    f"The endpoint refused the API key in {self.settings.api_key_env} "
                    f"({error.status_code}). Check the key, then run again."
                )
                raise Stopped from None
            except openai.NotFoundError as error:
                self.fail_run(
                    f"The endpoint has no model '{self.settings.model}' or no chat completions "
                    f"at {self.settings.base_url} (404: {_message(error)})."
                )
                raise Stopped from None
            except openai.BadRequestError as error:
                if extra and re.search(r"response_format|json_schema", _message(error), re.I):
                    self.use_schema = False  # the endpoint does not take a schema: ask in words
                    continue
                raise PredictionError(
                    self.scrub(f"The endpoint refused the request (400: {_message(error)}).")[:500]
                ) from None
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APIStatusError,
            ) as error:
                if error.status_code != 429 and error.status_code < 500:
                    raise PredictionError(
                        self.scrub(f"The endpoint answered {error.status_code}: {_message(error)}")[
                            :500
                        ]
                    ) from None
                last = f"The endpoint answered {error.status_code} {attempt} times."
                self._wait(attempt, _retry_after(error.response.headers))
            except openai.APITimeoutError:
                last = (
                    f"The endpoint did not answer within {self.settings.timeout:g} s, "
                    f"{attempt} times."
                )
                self._wait(attempt, None)
            except openai.APIConnectionError as error:
                if attempt == MAX_ATTEMPTS:
                    self.fail_run(
                        f"Could not reach the endpoint at {self.settings.base_url} "
                        f"({error.__cause__ or error})."
                    )
                    raise Stopped from None
                last = "lost connection"
                self._wait(attempt, None)
            else:
                if not response.choices:
                    raise PredictionError("The endpoint's reply has no choices.")
                return response.choices[0].message.content or ""
        raise PredictionError(last)

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        if attempt == MAX_ATTEMPTS:
            return
        if retry_after is not None:
            delay = min(retry_after, RETRY_AFTER_MAX)
        else:
            ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1))
            delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter: retries spread out
        if self.stop.wait(delay):
            raise Stopped


def _message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        body = body.get("message", body)
    return str(body or error.message)[:300]


def _retry_after(headers) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after``)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue  # an HTTP date: fall back to our backoff
        if seconds >= 0:
            return seconds
    return None


def chosen_comment_ids(run: PredictionRun) -> list[int]:
    """The ids of the comments ``run.options`` chose, in thread order (one query)."""
    options = run.options or {}
    comments = Comment.objects.filter(article__project_id=run.project_id)
    which = options.get("which", Which.UNLABELLED)
    if which == Which.THREAD:
        comments = comments.filter(article_id=options.get("thread"))
    elif which == Which.UNLABELLED:
        labelled = Prediction.objects.filter(labeller=run.labeller, comment=models.OuterRef("pk"))
        comments = comments.filter(~models.Exists(labelled))
    elif which != Which.ALL:
        raise RunFailed(f"Unknown choice of comments: {which}.")
    ids = comments.order_by("article_id", "path").values_list("pk", flat=True)
    limit = options.get("limit")
    return list(ids[: int(limit)] if limit else ids)


def comment_contexts(ids: Sequence[int]) -> Iterator[CommentContext]:
    """What the prompt needs about each comment, read ``READ_CHUNK`` at a time: two
    queries a chunk (the comments with their articles, then their nearest ancestors)."""
    it = iter(ids)
    while chunk := list(islice(it, READ_CHUNK)):
        comments = (
            Comment.objects.filter(pk__in=chunk)
            .select_related("article")
            .only("text", "author", "path", "article_id", "article__title", "article__body")
        )
        by_id = {c.pk: c for c in comments}
        wanted: dict[int, set[str]] = {}
        for comment in by_id.values():
            wanted.setdefault(comment.article_id, set()).update(
                ancestor_paths(comment.path)[-PARENT_DEPTH:]
            )
        condition = models.Q(pk__in=[])
        for article_id, paths in wanted.items():
            if paths:
                condition |= models.Q(article_id=article_id, path__in=paths)
        texts = {
            (row["article_id"], row["path"]): row["text"]
            for row in Comment.objects.filter(condition).values("article_id", "path", "text")
        }
        for pk in chunk:
            comment = by_id.get(pk)
            if comment is None:  # deleted since the run began
                continue
            paths = ancestor_paths(comment.path)
            yield CommentContext(
                comment_id=pk,
                text=comment.text,
                author=comment.author,
                article_title=comment.article.title,
                article_body=comment.article.body,
                parents=[texts.get((comment.article_id, p), "") for p in paths[-PARENT_DEPTH:]],
                left_out=max(0, len(paths) - PARENT_DEPTH),
            )


class LLMRun:
    """One run's state on the main thread: what was done, what waits to be written."""

    def __init__(self, run: PredictionRun, endpoint: Endpoint, scheme_row, guidelines: str):
        self.run = run
        self.labeller: MachineLabeller = run.labeller
        self.endpoint = endpoint
        self.scheme_row = scheme_row
        self.scheme = scheme_row.scheme
        self.guidelines = guidelines
        # The same for every comment of a place (top-level or reply): built once a run.
        self.systems = {
            is_reply: system_message(self.scheme, guidelines, is_reply=is_reply)
            for is_reply in (False, True)
        }
        self.formats = {
            is_reply: response_format(self.scheme, is_reply=is_reply) for is_reply in (False, True)
        }
        self.done = self.failed = 0
        self.items: list[PredictionItem] = []
        self.failures: list[PredictionFailure] = []
        self.last_beat = time.monotonic()

    def label(self, context: CommentContext) -> Outcome:
        """Ask about one comment (in a worker thread: no database here)."""
        messages = build_messages(
            self.scheme, self.guidelines, context, system=self.systems[context.is_reply]
        )
        try:
            reply = self.endpoint.complete(messages, self.formats[context.is_reply])
        except Stopped:
            return Outcome(context.comment_id, asked=False)
        except PredictionError as error:
            return Outcome(context.comment_id, reason=str(error))
        except Exception as error:  # a reply the client could not read, and the like
            logger.exception("LLM request for comment %s failed", context.comment_id)
            return Outcome(
                context.comment_id, reason=self.endpoint.scrub(f"The request failed: {error}")[:500]
            )
        try:
            answers = parse_reply(self.scheme, reply, is_reply=context.is_reply)
        except PredictionError as error:
            return Outcome(context.comment_id, reason=str(error)[:500], raw=reply)
        return Outcome(context.comment_id, answers=answers, raw=reply)

    def take(self, outcome: Outcome) -> None:
        if not outcome.asked:
            return
        self.done += 1
        raw = outcome.raw[:REPLY_LENGTH]
        if outcome.answers:
            self.items.append(
                PredictionItem(outcome.comment_id, list(outcome.answers), PROMPT_VERSION, raw)
            )
        else:
            self.failed += 1
            self.failures.append(
                PredictionFailure(
                    labeller=self.labeller,
                    run=self.run,
                    comment_id=outcome.comment_id,
                    reason=outcome.reason[:500],
                    raw_response=raw,
                    prompt_version=PROMPT_VERSION,
                )
            )

    def flush(self, *, force: bool = False) -> bool:
        """Write what waits and beat, every ``WRITE_BATCH`` results or ``BEAT_EVERY``
        seconds; False when the run is no longer running (then stop)."""
        pending = len(self.items) + len(self.failures)
        if not force and pending < WRITE_BATCH and time.monotonic() - self.last_beat < BEAT_EVERY:
            return True
        with transaction.atomic():
            write_predictions(self.labeller, self.items, scheme_version=self.scheme_row.version)
            PredictionFailure.objects.bulk_create(self.failures)
        self.items, self.failures = [], []
        self.last_beat = time.monotonic()
        return beat(self.run, done=self.done, failed=self.failed, requests=self.endpoint.requests)


def run_llm(run: PredictionRun) -> None:
    """Do the LLM run ``run`` (claimed by ``runs.run_prediction_run``)."""
    labeller = run.labeller
    if labeller is None or labeller.kind != MachineLabeller.Kind.LLM:
        raise RunFailed("An LLM run needs a model of the kind 'LLM endpoint'.")
    settings = EndpointSettings.from_config(labeller.config)
    cap = min(settings.request_cap, int(run.options.get("request_cap") or settings.request_cap))
    endpoint = Endpoint(settings, settings.api_key(), cap)
    guidelines = (
        Guidelines.objects.filter(project_id=run.project_id).values_list("text", flat=True).first()
        or ""
    )
    state = LLMRun(run, endpoint, current_scheme_for(run.project), guidelines)
    ids = chosen_comment_ids(run)
    PredictionRun.objects.filter(pk=run.pk).update(prompt_version=PROMPT_VERSION)
    run.prompt_version = PROMPT_VERSION
    if not beat(run, total=len(ids), done=0, failed=0, requests=0):
        return
    alive = _drive(state, comment_contexts(ids), settings.concurrency)
    if not alive:
        return  # the reaper failed the run meanwhile; it says why
    if state.done or state.failed:
        refresh_after_predictions(labeller)
    if endpoint.fatal:
        raise RunFailed(endpoint.fatal)
    report: dict = {"prompt_version": PROMPT_VERSION, "cap": cap}
    if endpoint.capped:
        left = len(ids) - state.done
        report["note"] = (
            f"Stopped at the cap of {cap} requests: {left} comment{'s' if left != 1 else ''} "
            "not labelled. Run again to go on."
        )
    finish(
        run,
        done=state.done,
        failed=state.failed,
        requests=endpoint.requests,
        prompt_version=PROMPT_VERSION,
        report=report,
    )


def _drive(state: LLMRun, contexts: Iterator[CommentContext], concurrency: int) -> bool:
    """Keep ``concurrency`` requests in flight until the comments run out or the run stops;
    False when the run stopped being ours."""
    endpoint = state.endpoint
    window = concurrency * 2  # prompts ready beyond those in flight, so no worker waits
    pending: set[Future] = set()
    alive = True
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm") as pool:
        while True:
            while alive and not endpoint.stop.is_set() and len(pending) < window:
                context = next(contexts, None)
                if context is None:
                    break
                pending.add(pool.submit(state.label, context))
            if not pending:
                break
            finished, pending = wait(pending, timeout=BEAT_EVERY, return_when=FIRST_COMPLETED)
            for future in finished:
                state.take(future.result())
            if alive and not state.flush():
                alive = False
                endpoint.stop.set()
    if alive:
        alive = state.flush(force=True)
    return alive
