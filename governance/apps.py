from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    """What notices a risky account when nobody is watching: the jobs, the rules, their alerts' evidence and
    triage, the access reviews and the console's dashboard (above `records` and `accounts`)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "governance"
    verbose_name = _("Governance")
