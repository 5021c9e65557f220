"""Projects created before label schemes existed get version 1 of the default scheme."""

from django.db import migrations


def add_default_schemes(apps, schema_editor):
    from annotator.labelling.default_scheme import default_scheme, guidelines_from_scheme
    from annotator.labelling.scheme import scheme_to_data

    Project = apps.get_model("corpus", "Project")
    LabelScheme = apps.get_model("labelling", "LabelScheme")
    Guidelines = apps.get_model("labelling", "Guidelines")
    scheme = default_scheme()
    for project in Project.objects.filter(schemes__isnull=True):
        LabelScheme.objects.create(project=project, version=1, definition=scheme_to_data(scheme))
        Guidelines.objects.get_or_create(
            project=project, defaults={"text": guidelines_from_scheme(scheme)}
        )


class Migration(migrations.Migration):
    dependencies = [("labelling", "0001_initial")]

    operations = [migrations.RunPython(add_default_schemes, migrations.RunPython.noop)]
