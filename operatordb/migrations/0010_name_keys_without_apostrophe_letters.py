"""Name keys drop the apostrophes Unicode files as letters (ʼ ʻ ʽ ʹ ʺ ʾ ʿ), as they drop ' and ’:
the stored keys of names holding one are computed again (a handful of rows, found by a regular
expression on the name)."""

from django.db import migrations

APOSTROPHE_LETTERS = "[\u02b9-\u02bf]"


def recompute(apps, schema_editor):
    from identity.idrules import normalize_name_for_comparison

    for name in ("OperatorSubscriber", "PopulationRecord"):
        model = apps.get_model("operatordb", name)
        for row in model.objects.filter(full_name__regex=APOSTROPHE_LETTERS).only("full_name"):
            model.objects.filter(pk=row.pk).update(
                name_key=normalize_name_for_comparison(row.full_name)
            )


class Migration(migrations.Migration):
    dependencies = [("operatordb", "0009_name_key_whole")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
