"""The shuffled work order's rank as an expression index (``corpus.models.thread_rank_of``).

The queue walks a shuffled project's threads down this index instead of ranking every
article on every claim. The rank is now an arithmetic function of the project and article
ids (before, its parameters came from a hash of the project's pk, which SQL cannot index), so
a project with ``work_order = "shuffled"`` gets a new order of its threads from here on. No
row changes: labels, claims and the thread-by-thread order are untouched. Reversible (the
index is dropped).
"""

import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('corpus', '0006_preview_comments'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='article',
            index=models.Index(models.F('project'), models.ExpressionWrapper(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('id'), '%%', models.Value(2147483647)), '+', django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('project_id'), '%%', models.Value(2147483647)), '*', models.Value(48271)), '%%', models.Value(2147483647))), '%%', models.Value(2147483647)), '*', models.Value(1103515245)), '%%', models.Value(2147483647)), '*', django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('id'), '%%', models.Value(2147483647)), '+', django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('project_id'), '%%', models.Value(2147483647)), '*', models.Value(48271)), '%%', models.Value(2147483647))), '%%', models.Value(2147483647)), '*', models.Value(1103515245)), '%%', models.Value(2147483647))), '%%', models.Value(2147483647)), '+', models.Value(12345)), '%%', models.Value(2147483647)), '*', django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('project_id'), '%%', models.Value(2147483647)), '*', models.Value(69621)), '%%', models.Value(2147483646)), '+', models.Value(1))), '%%', models.Value(2147483647)), output_field=models.BigIntegerField()), models.F('id'), name='article_thread_rank'),
        ),
    ]
