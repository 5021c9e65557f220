"""Comments lose their index on ``article_id`` alone.

The unique indexes on (article, path) and (article, source_id) start with ``article_id`` and
answer every lookup by article (the foreign key's checks and cascades included), so the sixth
index only cost every imported row one more index write. Only the index is dropped: the
foreign-key constraint stays as it is (Django's own ``AlterField`` would drop and re-validate
it over every comment). The index name is the one Django gave it on every database.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "corpus_comment_article_id_6c6beb50"


class Migration(migrations.Migration):
    dependencies = [
        ("corpus", "0007_article_thread_rank"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="comment",
                    name="article",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="comments",
                        to="corpus.article",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "corpus_comment" ("article_id")',
                ),
            ],
        ),
    ]
