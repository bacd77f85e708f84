"""A name's comparison key is stored whole (text): NFKC can make the key of a 100-character name
many times longer (U+FDFA alone is 15 letters), and a cut key would no longer equal the key
reconciliation computes from the portal's name. On PostgreSQL ``varchar(100)`` to ``text`` is
binary-compatible: no rewrite of the table, its indexes kept."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("operatordb", "0008_msisdn_unique_without_pattern_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="operatorsubscriber",
            name="name_key",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="populationrecord",
            name="name_key",
            field=models.TextField(),
        ),
    ]
