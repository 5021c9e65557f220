"""The built-in learner's maths: one classifier per question, trained on the project's labels,
measured by cross-validation, applied to text. No database here (learner_runs.py reads and
writes), so the learning can be tested and benchmarked on plain lists.

Features: TF-IDF of word 1-2-grams (``WordNgrams``) and of character 2-5-grams within words
(``CharNgrams``, robust to spelling and inflection), each with a bounded vocabulary. For a
question about the parent (``Target.PARENT``) the parent's text is a second block of the same
features in its own columns, so "agrees with" can be learned from both sides of a reply. The
vectorisers are fitted once per training on the labelled comments' texts (no labels are
used, so cross-validation folds may share them) and serve every question.

Classifier: logistic regression (class_weight balanced: minority answers matter), one per
single-choice or yes/no question, fitted by stochastic gradient descent (sklearn's
``SGDClassifier`` with the log loss and ``alpha = 1 / (C * n)``, the objective of
``LogisticRegression(C)``): on the same features it gives the same macro-F1 as lbfgs from 60
to 20,000 labels and is 2.5x faster at 20,000, which is what lets 100,000 labels train in a
minute. A multiple-choice question gets one binary classifier per choice (one-vs-rest): its
answer is every choice with probability >= 0.5, else the most probable one, and an exclusive
choice ("none") stands alone when it is the most probable. Free-text questions are not
learned.

Cross-validation uses every example up to ``CV_SAMPLE``; above it, a stratified random
sample of that size (the quality says so: ``cv_labels``), so its cost stops growing with
the project while the final model still learns from every label.

What is too little (``MIN_LABELS``, ``MIN_PER_CLASS``): an answer given fewer than
``MIN_TO_LEARN`` times is left out of training (it cannot be in both a training and a test
fold); a question with fewer than two answers left, or fewer than ``MIN_TO_LEARN`` * 5
labels, gets no model and says why. A model learned from fewer than 50 labels, or with an
answer seen fewer than 5 times, is kept but marked ``too_few``: its figures come from so
few examples that they are mostly noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from annotator.labelling.scheme import Kind, Question, Target

MIN_LABELS = 50
MIN_PER_CLASS = 5
MIN_TO_LEARN = 2
MAX_FOLDS = 5
CV_SAMPLE = 20_000  # cross-validate on at most this many examples
UPDATES = 100_000  # gradient steps a fit takes at least (5 to 50 passes over the examples)
HASHED_COLUMNS = 2**21  # word n-grams are hashed into this many columns before the selection
TEXT_CHARS = 2000  # a comment's first characters are its features (long ones cost time)


@dataclass(frozen=True)
class LearnerParams:
    """The learner's settings, stored in each version's ``config``."""

    word_features: int = 50_000
    char_features: int = 50_000
    C: float = 1.0
    folds: int = MAX_FOLDS
    cv_sample: int = CV_SAMPLE
    random_state: int = 0

    def as_config(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "word_ngrams": [1, 2],
            "char_wb_ngrams": [2, 5],
            "text_chars": TEXT_CHARS,
            "min_labels": MIN_LABELS,
            "min_per_class": MIN_PER_CLASS,
            "classifier": "logistic regression (SGD, log loss, class_weight balanced)",
        }


@dataclass
class Example:
    """One labelled comment for one question: its text, its parent's, the settled answer
    (a choice's value, or a frozenset of values for multiple choice)."""

    text: str
    parent_text: str
    answer: Any
    row: int = -1  # the comment's row in a matrix of features computed once


@dataclass
class QuestionModel:
    """A trained question: its classifiers and the choices they decide."""

    question: Question
    classes: list[str]
    classifiers: list[SGDClassifier] = field(default_factory=list)

    @property
    def uses_parent(self) -> bool:
        return self.question.target == Target.PARENT


def settled_answer(question: Question, gold: Any, given: Sequence[Any]) -> Any:
    """The answer the learner learns for one comment: gold when set, else the majority of
    the submitted answers (None on a tie or when nobody answered). Answers the scheme no
    longer offers are ignored; a multiple-choice answer is the whole set of choices."""
    if gold is not None:
        return _as_label(question, gold)
    votes = Counter(label for answer in given if (label := _as_label(question, answer)) is not None)
    if not votes:
        return None
    (top, count), *rest = [*votes.most_common(2), (None, 0)]
    return top if count > rest[0][1] else None


def _as_label(question: Question, answer: Any) -> Any:
    if question.kind == Kind.MULTIPLE:
        values = [answer] if isinstance(answer, str) else answer
        if not isinstance(values, list) or not values:
            return None
        chosen = frozenset(v for v in values if isinstance(v, str))
        return chosen if chosen and chosen <= question.values else None
    return answer if isinstance(answer, str) and answer in question.values else None


class CharNgrams:
    """TF-IDF of character n-grams within words, equal to ``TfidfVectorizer(analyzer=
    "char_wb")`` but computed per distinct word: a text's n-grams are the sum of its words'
    (sklearn's char_wb splits on whitespace too), so the n-grams of each distinct word of a
    batch are made once and a sparse product spreads them over the texts. Python's per-
    character work then grows with the vocabulary, not with the length of the corpus, which
    is what makes 100,000 comments train in seconds."""

    def __init__(self, ngram_range: tuple[int, int], max_features: int) -> None:
        self.ngram_range, self.max_features = ngram_range, max_features
        self.grams: CountVectorizer | None = None
        self.vocabulary_: dict[str, int] = {}
        self.tfidf = TfidfTransformer(sublinear_tf=True)

    @staticmethod
    def _words(texts: Sequence[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        counter = CountVectorizer(
            tokenizer=str.split, token_pattern=None, lowercase=True, dtype=np.float32
        )
        try:
            counts = counter.fit_transform(texts)
        except ValueError:  # no words at all (empty texts)
            return sp.csr_matrix((len(texts), 0), dtype=np.float32), np.array([], dtype=object)
        return counts, counter.get_feature_names_out()

    def _grams(self, **options) -> CountVectorizer:
        return CountVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            lowercase=False,
            dtype=np.float32,
            **options,
        )

    def _counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        words, names = self._words(texts)
        if not len(names):
            return sp.csr_matrix((len(texts), len(self.vocabulary_)), dtype=np.float32)
        return (words @ self.grams.transform(names)).tocsr()

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        words, names = self._words(texts)
        every = self._grams()
        per_word = every.fit_transform(names)
        frequency = np.asarray(words.sum(axis=0)).ravel() @ per_word  # as sklearn's max_features
        keep = np.sort(np.argsort(-frequency, kind="stable")[: self.max_features])
        self.vocabulary_ = {gram: i for i, gram in enumerate(every.get_feature_names_out()[keep])}
        self.grams = self._grams(vocabulary=self.vocabulary_)
        counts = (words @ per_word[:, keep]).tocsr()
        return self.tfidf.fit_transform(counts).astype(np.float32)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.tfidf.transform(self._counts(texts)).astype(np.float32)


class WordNgrams:
    """TF-IDF of word 1-2-grams seen in at least two texts, the ``max_features`` most frequent,
    as ``TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=...)`` but with the
    n-grams hashed (``HashingVectorizer``) before they are counted and selected: sklearn's
    vectoriser builds a Python dictionary of every distinct bigram (millions at 100,000
    comments, 18.7 s there against 5.3 s hashed). Two n-grams landing in one of the 2**21
    columns share it, as in any hashed model; the selection keeps columns, not strings."""

    def __init__(self, max_features: int) -> None:
        self.max_features = max_features
        self.hashing = HashingVectorizer(
            ngram_range=(1, 2),
            n_features=HASHED_COLUMNS,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
        self.columns = np.array([], dtype=np.int64)
        self.tfidf = TfidfTransformer(sublinear_tf=True)

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        counts = self.hashing.transform(texts)
        in_texts = np.bincount(counts.indices, minlength=HASHED_COLUMNS)
        seen = np.flatnonzero(in_texts >= 2)
        if not len(seen):  # no word is in two texts: every word then
            seen = np.flatnonzero(in_texts)
        frequency = np.bincount(counts.indices, weights=counts.data, minlength=HASHED_COLUMNS)[seen]
        self.columns = np.sort(seen[np.argsort(-frequency, kind="stable")[: self.max_features]])
        return self.tfidf.fit_transform(counts[:, self.columns]).astype(np.float32)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        counts = self.hashing.transform(texts)[:, self.columns]
        return self.tfidf.transform(counts).astype(np.float32)

    @property
    def size(self) -> int:
        return len(self.columns)


class TextFeatures:
    """The fitted word and character TF-IDF vectorisers shared by every question."""

    def __init__(self, params: LearnerParams) -> None:
        self.word = WordNgrams(params.word_features)
        self.char = CharNgrams((2, 5), params.char_features)

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Fit on ``texts`` (no labels: every fold of a cross-validation may share it) and
        return their features, computed once for every question."""
        texts = [t[:TEXT_CHARS] for t in texts]
        words = self.word.fit_transform(texts)
        return sp.hstack([words, self.char.fit_transform(texts)], format="csr")

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        texts = [t[:TEXT_CHARS] for t in texts]
        return sp.hstack([self.word.transform(texts), self.char.transform(texts)], format="csr")

    @property
    def size(self) -> int:
        return self.word.size + len(self.char.vocabulary_)


def question_matrix(
    features: TextFeatures, question: Question, texts: Sequence[str], parents: Sequence[str]
) -> sp.csr_matrix:
    """The features of ``texts`` for ``question``: the parent's block beside the comment's
    when the question is about the parent."""
    own = features.transform(texts)
    if question.target != Target.PARENT:
        return own
    return sp.hstack([own, features.transform(parents)], format="csr")


def matrix_of_texts(
    features: TextFeatures, question: Question
) -> Callable[[Sequence[Example]], sp.csr_matrix]:
    """``train_question``'s features made from the examples' texts (for a few examples; a
    run computes every comment's features once and picks rows)."""
    return lambda found: question_matrix(
        features, question, [e.text for e in found], [e.parent_text for e in found]
    )


def _classifier(params: LearnerParams, examples: int) -> SGDClassifier:
    """Logistic regression with ``LogisticRegression(C)``'s objective (the mean log loss plus
    ``alpha / 2 * |w|^2`` is that objective divided by ``C * n``), fitted in at least
    ``UPDATES`` steps: 5 passes over 100,000 examples, 50 over 2,000 or fewer."""
    return SGDClassifier(
        loss="log_loss",
        alpha=1 / (params.C * max(examples, 1)),
        max_iter=min(50, max(5, -(-UPDATES // max(examples, 1)))),
        tol=None,
        class_weight="balanced",
        random_state=params.random_state,
    )


def learnable(
    question: Question, examples: Sequence[Example]
) -> tuple[list[Example], list[str], str]:
    """The examples kept for ``question``, the classes learned, and why not ("" when it can
    be learned)."""
    if question.kind == Kind.TEXT:
        return [], [], "Free-text answers are not learned."
    if question.kind == Kind.MULTIPLE:
        positives = Counter(v for e in examples for v in e.answer)
        classes = [
            c.value
            for c in question.choices
            if MIN_TO_LEARN <= positives[c.value] <= len(examples) - MIN_TO_LEARN
        ]
        kept = list(examples)
    else:
        counts = Counter(e.answer for e in examples)
        classes = [c.value for c in question.choices if counts[c.value] >= MIN_TO_LEARN]
        kept = [e for e in examples if e.answer in classes]
    if len(kept) < MIN_TO_LEARN * 5:
        n = len(examples)
        return kept, classes, f"Only {n} label{'' if n == 1 else 's'}: too few to learn from."
    if question.kind == Kind.MULTIPLE and not classes:
        return kept, classes, "No choice is both chosen and left out often enough to learn."
    if question.kind != Kind.MULTIPLE and len(classes) < 2:
        return kept, classes, "Every label gives the same answer: nothing to tell apart."
    return kept, classes, ""


def _targets(question: Question, classes: list[str], examples: Sequence[Example]) -> np.ndarray:
    if question.kind == Kind.MULTIPLE:
        return np.array([[c in e.answer for c in classes] for e in examples], dtype=np.int8)
    return np.array([e.answer for e in examples])


class _Always:
    """A choice a training fold never (or always) saw chosen: that share, for every row."""

    def __init__(self, chosen: int) -> None:
        self.chosen = float(chosen)

    def predict_proba(self, X) -> np.ndarray:
        return np.tile([1 - self.chosen, self.chosen], (X.shape[0], 1))


def _fit_choice(params: LearnerParams, X, column):
    if column.min() == column.max():  # a fold of a rare choice may hold only one side
        return _Always(int(column[0]))
    return _classifier(params, X.shape[0]).fit(X, column)


def _fit(params: LearnerParams, question: Question, classes, X, y) -> QuestionModel:
    model = QuestionModel(question, classes)
    if question.kind == Kind.MULTIPLE:
        model.classifiers = [_fit_choice(params, X, y[:, i]) for i in range(len(classes))]
    else:
        model.classifiers = [_classifier(params, X.shape[0]).fit(X, y)]
    return model


def predict_labels(model: QuestionModel, X) -> tuple[list[Any], np.ndarray]:
    """Answers (as stored: a value, or a list of values) and confidences for the rows of
    ``X``. The confidence is the probability of the answer; for multiple choice the least
    sure of its per-choice decisions, so "most uncertain first" sees any doubt."""
    if model.question.kind != Kind.MULTIPLE:
        (classifier,) = model.classifiers
        probabilities = classifier.predict_proba(X)
        best = probabilities.argmax(axis=1)
        return list(classifier.classes_[best]), probabilities.max(axis=1)
    chosen = np.column_stack([c.predict_proba(X)[:, 1] for c in model.classifiers])
    confidence = np.maximum(chosen, 1 - chosen).min(axis=1)
    exclusive = np.array([bool(model.question.choice(c).exclusive) for c in model.classes])
    answers = []
    for row in chosen:
        top = int(row.argmax())
        picked = [i for i in np.flatnonzero(row >= 0.5)] or [top]
        if exclusive[top] and top in picked:
            picked = [top]
        else:
            picked = [i for i in picked if not exclusive[i]] or [top]
        answers.append([model.classes[i] for i in picked])
    return answers, confidence


def _score(question: Question, classes, y_true, y_pred) -> tuple[float, float]:
    if question.kind == Kind.MULTIPLE:
        predicted = np.array([[c in set(p) for c in classes] for p in y_pred], dtype=np.int8)
        exact = float((predicted == y_true).all(axis=1).mean())
        return float(f1_score(y_true, predicted, average="macro", zero_division=0)), exact
    return (
        float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        float(accuracy_score(y_true, y_pred)),
    )


def _folds(params: LearnerParams, question: Question, y) -> tuple[int, Any]:
    if question.kind == Kind.MULTIPLE:
        smallest = int(min(y.sum(axis=0).min(), (1 - y).sum(axis=0).min()))
        k = max(2, min(params.folds, smallest))
        return k, KFold(k, shuffle=True, random_state=params.random_state).split(y)
    smallest = min(Counter(y).values())
    k = max(2, min(params.folds, smallest))
    splitter = StratifiedKFold(k, shuffle=True, random_state=params.random_state)
    return k, splitter.split(np.zeros(len(y)), y)


def cross_validation_rows(params: LearnerParams, question: Question, y) -> np.ndarray:
    """The rows cross-validated: all of them up to ``params.cv_sample``, else a random sample
    of that size, stratified by answer for single choice (every answer keeps its share)."""
    rows = np.arange(len(y))
    if len(y) <= params.cv_sample:
        return rows
    stratify = None if question.kind == Kind.MULTIPLE else y
    sample, _ = train_test_split(
        rows, train_size=params.cv_sample, stratify=stratify, random_state=params.random_state
    )
    return np.sort(sample)


def quality_of(
    question: Question, kept: Sequence[Example], classes, k: int, f1, accuracy, cv_labels: int
) -> dict:
    """The figures shown for a trained question, with the ``too_few`` warning and its why."""
    if question.kind == Kind.MULTIPLE:
        counts = {c: sum(c in e.answer for e in kept) for c in classes}
    else:
        counts = dict(Counter(e.answer for e in kept))
    rare = [c for c, n in counts.items() if n < MIN_PER_CLASS]
    warnings = []
    if len(kept) < MIN_LABELS:
        warnings.append(f"learned from {len(kept)} labels (fewer than {MIN_LABELS})")
    if rare:
        warnings.append(f"fewer than {MIN_PER_CLASS} labels of {', '.join(rare)}")
    return {
        "macro_f1": round(f1, 4),
        "accuracy": round(accuracy, 4),
        "labels": len(kept),
        "classes": counts,
        "folds": k,
        "cv_labels": cv_labels,
        "too_few": bool(warnings),
        "warning": "; ".join(warnings),
    }


def train_question(
    params: LearnerParams,
    question: Question,
    examples: Sequence[Example],
    matrix: Callable[[Sequence[Example]], sp.csr_matrix],
) -> tuple[QuestionModel | None, dict]:
    """Cross-validate, then train on every example: the model (None when the question
    cannot be learned) and its quality figures (or ``skipped`` with the reason).
    ``matrix(examples)`` gives their features (``question_matrix`` or rows computed once)."""
    kept, classes, reason = learnable(question, examples)
    if reason:
        return None, {"skipped": reason, "labels": len(examples)}
    X = matrix(kept)
    y = _targets(question, classes, kept)
    sample = cross_validation_rows(params, question, y)
    X_cv, y_cv = X[sample], y[sample]
    k, splits = _folds(params, question, y_cv)
    truth, guesses = [], []
    for train, test in splits:
        fold_model = _fit(params, question, classes, X_cv[train], y_cv[train])
        truth.append(y_cv[test])
        guesses.extend(predict_labels(fold_model, X_cv[test])[0])
    y_true = np.concatenate(truth)
    f1, accuracy = _score(question, classes, y_true, guesses)
    return _fit(params, question, classes, X, y), quality_of(
        question, kept, classes, k, f1, accuracy, len(sample)
    )


def run_training(run) -> None:
    """Train a new learner version and predict the project (runs.py dispatches ``Kind.TRAIN``
    here); the database side is in learner_runs.py so that this module stays plain maths."""
    from annotator.assist.learner_runs import train_and_predict

    train_and_predict(run)
