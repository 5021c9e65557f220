"""Corpus-wide ids for the layouts that name articles and comments in one id space.

Our comment ids (the source's own) are unique within their article only, and an article's id
may equal a comment's; ConvoKit's utterance ids and RumourEval's tweet ids must be unique
over the whole corpus. Real platform ids are (Reddit, Hacker News, Twitter), so the source
ids are kept whenever they are unique in the project, which keeps a ConvoKit or RumourEval
export joinable with the JSON Lines one. Only when they are not (the same comment id in two
threads, as scraped text gives for a repeated "Thanks!", or a comment with an article's id)
is every comment named ``ARTICLE_ID/COMMENT_ID``. The check covers the whole project, not
the export's filter, so a filtered export names comments as a full one does.

``file_name`` makes any id safe as one file name inside a ZIP (ids come from the source and
may hold ``/``, ``..`` or be very long).
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from django.db.models import Count

from annotator.corpus.models import Article, Comment, Project

SEPARATOR = "/"
# Longer file names are cut and given a hash: most file systems allow 255 bytes a name.
MAX_FILE_NAME = 200


def ids_are_unique(project: Project) -> bool:
    """Whether every comment id of ``project`` is unique over the project and no article's
    id (two queries)."""
    comments = Comment.objects.filter(article__project=project)
    repeated = (
        comments.order_by().values("source_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
    )
    if repeated:
        return False
    articles = Article.objects.filter(project=project).values("source_id")
    return not comments.filter(source_id__in=articles).exists()


class CorpusIds:
    """The corpus-wide id of each article and comment of one export (module docstring)."""

    def __init__(self, project: Project):
        self.qualified = not ids_are_unique(project)

    def article(self, article_id: str) -> str:
        """An article's id: its source id (unique in the project)."""
        return article_id

    def comment(self, article_id: str, comment_id: str) -> str:
        """A comment's id: its source id, or ``ARTICLE_ID/COMMENT_ID`` when ids repeat."""
        if self.qualified:
            return f"{article_id}{SEPARATOR}{comment_id}"
        return comment_id

    def parent(self, article_id: str, parent_id: str | None) -> str:
        """What a comment answers: its parent comment, or the article for a top-level one."""
        if parent_id is None:
            return self.article(article_id)
        return self.comment(article_id, parent_id)


def file_name(identifier: str) -> str:
    """``identifier`` as one file name, the same id always giving the same name.

    Letters, digits, ``-``, ``_`` and ``.`` are kept and everything else is percent-encoded
    (``%`` too, so two ids never share a name); a leading dot is encoded, so no name is
    ``.``, ``..`` or hidden. A name longer than ``MAX_FILE_NAME`` keeps its start and ends
    with ``~`` and a hash of the whole id. Names differing only in case are distinct here but
    collide on a case-insensitive file system (macOS, Windows) when unzipped.
    """
    name = quote(identifier, safe="-_.")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if not name:
        name = "%"  # an empty id still needs a name (no other name is a lone %)
    if len(name) > MAX_FILE_NAME:
        digest = hashlib.sha1(identifier.encode("utf-8"), usedforsecurity=False).hexdigest()
        name = name[: MAX_FILE_NAME - 17] + "~" + digest[:16]
    return name
