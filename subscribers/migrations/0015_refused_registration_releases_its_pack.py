"""A registration the population registry refused holds no number: its pack goes back to the
outlet's stock (``starter_pack`` empty on the refused record). Those refused before are released
the same way."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def release_packs_of_refused(apps, schema_editor):
    Registration = apps.get_model("subscribers", "Registration")
    StarterPack = apps.get_model("outlets", "StarterPack")
    refused = Registration.objects.filter(status="refused", starter_pack__isnull=False)
    pack_ids = list(refused.values_list("starter_pack_id", flat=True))
    if not pack_ids:
        return
    refused.update(starter_pack=None)
    StarterPack.objects.filter(
        pk__in=pack_ids, status="registered", life_ended_at__isnull=True
    ).update(status="in_stock", updated_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("outlets", "0006_number_lives"),
        ("subscribers", "0014_registration_awaiting_registry_hot_flag"),
    ]

    operations = [
        migrations.AlterField(
            model_name="registration",
            name="starter_pack",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="registration",
                to="outlets.starterpack",
            ),
        ),
        migrations.RunPython(release_packs_of_refused, migrations.RunPython.noop),
    ]
