"""How fast the built-in learner trains, and how much memory predicting a large project takes.

    .venv/bin/python bench/learner_speed.py                    # 100,000 labelled of 1,000,000
    .venv/bin/python bench/learner_speed.py --comments 200000  # predict a smaller project

It needs PostgreSQL (default ``postgres://postgres@127.0.0.1:5432/bench_learner``; the
database is dropped and re-created, its name must start with ``bench``). It writes
``--comments`` comments in threads of 50 (every third a reply), whose words carry the
answer (cue words among Zipf-distributed filler, 20% of the labels flipped at random), and
one annotator's submitted labels for the first ``--labelled`` of them (stance toward the
article and claim type). Then, each in a fresh child process:

1. ``train``: the learner's ``train`` (read the settled labels and texts, features,
   5-fold cross-validation and the final fit of each question): seconds, CV figures, peak
   RSS. Floors in the same child: the bare read of the labels and texts, and fitting the
   features alone.
2. ``predict``: the trained model (pickled by step 1) predicts every comment of the
   project with ``predict_project`` (keyset batches, ``write_predictions``): seconds and
   peak RSS. Floor in the same child: a bare keyset read of every comment's text.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import resource
import sys
import tempfile
import time
from itertools import accumulate
from pathlib import Path

from benchdb import create_database, run_step, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_learner"
CUES = {
    "support": "agree right exactly true indeed",
    "deny": "wrong false nonsense lie doubt",
    "query": "why how source really proof",
    "comment": "lol weather football pizza funny",
}
CLAIMS = {
    "factual": "percent figure data",
    "opinion": "think believe feel",
    "policy": "should must ban",
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def text_for(rng: random.Random, filler: list[str], cumulative, stance: str, claim: str) -> str:
    words = rng.choices(filler, cum_weights=cumulative, k=rng.randint(12, 50))
    words += rng.sample(CUES[stance].split(), 2) + rng.sample(CLAIMS[claim].split(), 1)
    rng.shuffle(words)
    return " ".join(words)


def build(comments: int, labelled: int) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from annotator.corpus.models import Article, Comment, Project, path_segment
    from annotator.labelling.models import Annotation
    from annotator.labelling.schemes import current_scheme_for
    from tests.factories import UserFactory

    rng = random.Random(0)
    filler = [f"w{i}" for i in range(30_000)]
    cumulative = list(accumulate(1 / (i + 1) for i in range(len(filler))))  # Zipf, summed once
    project = Project.objects.create(name="Bench", slug="bench")
    scheme = current_scheme_for(project)
    person = UserFactory(username="bench-annotator")
    stances, claims = list(CUES), list(CLAIMS)
    thread = 50
    for start in range(0, comments, 5000):
        articles = Article.objects.bulk_create(
            Article(project=project, source_id=f"a{n}", title=f"Article {n}")
            for n in range(start // thread, (start + 5000) // thread)
        )
        tops, replies, answers = [], [], []
        for i in range(start, min(start + 5000, comments)):
            stance, claim = rng.choice(stances), rng.choice(claims)
            article = articles[(i - start) // thread]
            comment = Comment(
                article=article,
                source_id=f"c{i}",
                text=text_for(rng, filler, cumulative, stance, claim),
                position=i % thread + 1,
                depth=0,
                path=path_segment(i % thread + 1),
            )
            (replies if i % 3 == 2 and i % thread else tops).append(comment)
            if i < labelled:
                noisy = lambda v, pool: rng.choice(pool) if rng.random() < 0.2 else v  # noqa: E731
                answers.append(
                    (
                        comment,
                        {
                            "stance_article": noisy(stance, stances),
                            "claim_type": noisy(claim, claims),
                        },
                    )
                )
        Comment.objects.bulk_create(tops, batch_size=2500)
        first_of = {}
        for top in tops:
            first_of.setdefault(top.article_id, top)
        for reply in replies:  # a reply to its thread's first comment
            reply.parent = first_of[reply.article_id]
            reply.depth, reply.path = 1, reply.parent.path + path_segment(reply.position)
        Comment.objects.bulk_create(replies, batch_size=2500)
        Annotation.objects.bulk_create(
            (
                Annotation(
                    project=project,
                    comment=comment,
                    annotator=person,
                    scheme=scheme,
                    answers=given,
                    answered_under=dict.fromkeys(given, scheme.version),
                    status="submitted",
                )
                for comment, given in answers
            ),
            batch_size=2500,
        )


def train_step(model_file: str) -> dict:
    from annotator.assist import learner, learner_runs
    from annotator.assist.models import PredictionRun
    from annotator.corpus.models import Project
    from annotator.labelling.schemes import current_scheme_for

    project = Project.objects.get(slug="bench")
    scheme = current_scheme_for(project).scheme
    clock = time.monotonic()
    _, texts, _ = learner_runs.training_examples(project, scheme)
    read = time.monotonic() - clock
    clock = time.monotonic()
    learner.TextFeatures(learner.LearnerParams()).fit_transform(texts)
    features_alone = time.monotonic() - clock
    del texts
    run = PredictionRun.objects.create(project=project, kind="train", status="running")
    clock = time.monotonic()
    features, models, quality = learner_runs.train(run, scheme, learner.LearnerParams())
    seconds = time.monotonic() - clock
    Path(model_file).write_bytes(pickle.dumps((features, models)))
    return {
        "train_s": round(seconds, 1),
        "read_floor_s": round(read, 1),
        "features_floor_s": round(features_alone, 1),
        "quality": quality,
        "peak_mb": round(peak_mb()),
    }


def predict_step(model_file: str) -> dict:
    from annotator.assist.learner_runs import predict_project
    from annotator.assist.models import MachineLabeller, PredictionRun
    from annotator.corpus.models import Comment, Project
    from annotator.labelling.schemes import current_scheme_for

    project = Project.objects.get(slug="bench")
    comments = Comment.objects.filter(article__project=project)
    clock, last, read = time.monotonic(), 0, 0
    while rows := list(
        comments.filter(pk__gt=last).order_by("pk").values_list("pk", "text", "parent__text")[:2000]
    ):
        last, read = rows[-1][0], read + len(rows)
    floor = time.monotonic() - clock
    floor_mb = peak_mb()
    features, models = pickle.loads(Path(model_file).read_bytes())  # noqa: S301 (our own file)
    labeller = MachineLabeller.objects.create(project=project, name="learner-bench", kind="learner")
    run = PredictionRun.objects.create(project=project, kind="train", status="running")
    clock = time.monotonic()
    written = predict_project(run, labeller, current_scheme_for(project), features, models)
    return {
        "comments": read,
        "predictions": written,
        "predict_s": round(time.monotonic() - clock, 1),
        "read_floor_s": round(floor, 1),
        "peak_mb": round(peak_mb()),
        "peak_after_bare_read_mb": round(floor_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--labelled", type=int, default=100_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_django(DATABASE_URL=args.database_url)
    if args.child:
        step = {"build": None, "train": train_step, "predict": predict_step}[args.child]
        result = build(args.comments, args.labelled) if step is None else step(args.model_file)
        print(json.dumps(result or {}))
        return
    create_database(args.database_url, drop=True)
    with tempfile.TemporaryDirectory() as folder:
        model_file = str(Path(folder) / "model.pickle")
        common = ["--database-url", args.database_url, "--model-file", model_file]
        sizes = ["--comments", str(args.comments), "--labelled", str(args.labelled)]
        clock = time.monotonic()
        run_step(__file__, "build", *common, *sizes)
        built = time.monotonic() - clock
        print(f"built {args.comments:,} comments, {args.labelled:,} labelled in {built:.0f} s")
        trained = run_step(__file__, "train", *common)
        print(
            f"train {args.labelled:,} labelled: {trained['train_s']} s (target < 60 s), peak RSS "
            f"{trained['peak_mb']} MB; floors: bare read of labels and texts "
            f"{trained['read_floor_s']} s, fitting the features alone "
            f"{trained['features_floor_s']} s"
        )
        for key, figures in trained["quality"].items():
            if "skipped" in figures:
                print(f"  {key}: skipped ({figures['skipped']})")
            else:
                print(
                    f"  {key}: macro-F1 {figures['macro_f1']:.3f}, accuracy "
                    f"{figures['accuracy']:.3f}, {figures['labels']:,} labels, "
                    f"{figures['folds']} folds"
                )
        predicted = run_step(__file__, "predict", *common)
        print(
            f"predict {predicted['comments']:,} comments "
            f"({predicted['predictions']:,} predictions): "
            f"{predicted['predict_s']} s, peak RSS {predicted['peak_mb']} MB (target < 300 MB); "
            f"floor: bare keyset read of the texts {predicted['read_floor_s']} s, "
            f"{predicted['peak_after_bare_read_mb']} MB"
        )


if __name__ == "__main__":
    sys.exit(main())
