"""AccessReview (from accounts) and the view tallies DistrictViewDay, ReaderViewWeek (from records) become
governance's, with their rows: the state moves, the tables are renamed to governance_*, and the content types
are relabelled in place, so the permissions the role groups hold (view_accessreview) and the admin log's
entries keep pointing at them.

accounts 0016 and records 0013 then drop the models from their own state (`run_before`), so the lower apps'
migrations never name governance. Index and constraint names stay as they were: those Django tracks are
explicit (district_view_day_unique, reader_view_week_unique, reader_week_busiest), the others it looks up.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# model → the app it came from
MOVED = {"accessreview": "accounts", "districtviewday": "records", "readerviewweek": "records"}


def _merge_into(apps, *, kept, stale) -> None:
    """Fold the content type `stale` into `kept`: `stale`'s permissions become `kept`'s, its grants with them.

    `stale` is a type made under the other label while the rows' type still had this one: by code that asked
    for the model's type before its migrations ran (a deploy ahead of them, a rollback). It is deleted.
    """
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    for perm in Permission.objects.filter(content_type=stale):
        same = Permission.objects.filter(content_type=kept, codename=perm.codename).first()
        if same is None:
            perm.content_type = kept
            perm.save(update_fields=["content_type"])
            continue
        for group in Group.objects.filter(permissions=perm):
            group.permissions.add(same)
        for user in User.objects.filter(user_permissions=perm):
            user.user_permissions.add(same)
        perm.delete()
    stale.delete()


def _relabel(apps, *, to_governance: bool) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, old_label in MOVED.items():
        source, target = (old_label, "governance") if to_governance else ("governance", old_label)
        moving = ContentType.objects.filter(app_label=source, model=model).first()
        if moving is None:  # never created here: post_migrate creates it under the model's app
            continue
        stale = ContentType.objects.filter(app_label=target, model=model).first()
        if stale is not None:
            _merge_into(apps, kept=moving, stale=stale)
        moving.app_label = target
        moving.save(update_fields=["app_label"])


def forwards(apps, schema_editor):
    _relabel(apps, to_governance=True)


def backwards(apps, schema_editor):
    _relabel(apps, to_governance=False)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0015_fewer_write_indexes"),
        ("records", "0012_checkpoint_schedule"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    run_before = [
        ("accounts", "0016_access_review_moved_to_governance"),
        ("records", "0013_view_tallies_moved_to_governance"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AccessReview',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('decision', models.CharField(choices=[('attest', 'Attested'), ('revoke', 'Revoked')], max_length=10, verbose_name='decision')),
                        ('reason', models.TextField(verbose_name='reason')),
                        ('period_start', models.DateTimeField(verbose_name='period from')),
                        ('period_end', models.DateTimeField(verbose_name='period to')),
                        ('usage', models.JSONField(default=dict, verbose_name='usage in the period')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='decided')),
                        ('reviewer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='reviewer')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='access_reviews', to=settings.AUTH_USER_MODEL, verbose_name='account')),
                    ],
                    options={
                        'verbose_name': 'access review',
                        'verbose_name_plural': 'access reviews',
                        'ordering': ['-created_at'],
                        'db_table': 'accounts_accessreview',
                    },
                ),
                migrations.CreateModel(
                    name='DistrictViewDay',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('role', models.CharField(max_length=20)),
                        ('views', models.PositiveIntegerField(default=0)),
                        ('district', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.district')),
                    ],
                    options={
                        'constraints': [models.UniqueConstraint(fields=('district', 'day', 'role'), name='district_view_day_unique')],
                        'db_table': 'records_districtviewday',
                    },
                ),
                migrations.CreateModel(
                    name='ReaderViewWeek',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('week', models.DateField()),
                        ('role', models.CharField(max_length=20)),
                        ('views', models.PositiveIntegerField(default=0)),
                        ('actor', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('district', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.district')),
                    ],
                    options={
                        'indexes': [models.Index(models.F('district'), models.F('week'), models.F('role'), models.OrderBy(models.F('views'), descending=True), models.F('actor'), name='reader_week_busiest')],
                        'constraints': [models.UniqueConstraint(fields=('district', 'week', 'actor'), name='reader_view_week_unique')],
                        'db_table': 'records_readerviewweek',
                    },
                ),
            ],
        ),
        # The tables as they are, under the name governance's models have by default.
        migrations.AlterModelTable(name='accessreview', table=None),
        migrations.AlterModelTable(name='districtviewday', table=None),
        migrations.AlterModelTable(name='readerviewweek', table=None),
        migrations.RunPython(forwards, backwards),
    ]
