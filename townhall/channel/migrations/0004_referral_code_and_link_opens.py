from django.db import migrations, models

import townhall.channel.models


def give_codes(apps, schema_editor):
    Post = apps.get_model("channel", "Post")
    used: set[str] = set()
    for post in Post.objects.only("pk"):
        code = townhall.channel.models.new_referral_code()
        while code in used:
            code = townhall.channel.models.new_referral_code()
        used.add(code)
        Post.objects.filter(pk=post.pk).update(referral_code=code)


class Migration(migrations.Migration):
    dependencies = [
        ("channel", "0003_merge_fan_out_and_rate_card"),
    ]

    operations = [
        migrations.AddField(
            model_name="post",
            name="referral_code",
            field=models.CharField(max_length=8, null=True),
        ),
        migrations.RunPython(give_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="post",
            name="referral_code",
            field=models.CharField(
                default=townhall.channel.models.new_referral_code, max_length=8, unique=True
            ),
        ),
        migrations.CreateModel(
            name="PostLinkOpen",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("count", models.PositiveIntegerField(default=0)),
                (
                    "post",
                    models.ForeignKey(
                        on_delete=models.deletion.CASCADE,
                        related_name="link_opens",
                        to="channel.post",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("post", "day"), name="one_open_counter_per_post_day"
                    )
                ],
            },
        ),
    ]
