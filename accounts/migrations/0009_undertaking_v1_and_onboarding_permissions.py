"""The first data-use undertaking, and the console's view rights over invitations and access reviews."""

from django.db import migrations

from accounts.migration_helpers import grant, revoke

GROUPS = ["supervisor", "state_admin"]

ADDED = ["accounts.view_invitation", "accounts.view_undertaking"]


def _added(apps) -> list[str]:
    """ADDED and the view right over access reviews, named by the app that holds AccessReview in `apps`:
    accounts here, governance since governance 0001 (tests/conftest.py replays `forwards` on today's models)."""
    label = next(m._meta.app_label for m in apps.get_models() if m._meta.model_name == "accessreview")
    return [*ADDED, f"{label}.view_accessreview"]

TEXT = (
    "I will open a beneficiary's record only for my own work at my facility and only when the task "
    "needs it, and I will state the true purpose. I will not share, copy, photograph or forward any "
    "record, code or password, and I will not let anyone else use my account or my device. I know "
    "that every look-up is recorded with my name and reviewed, and that misuse ends my access and "
    "may be reported under the law."
)
TEXT_HI = (
    "मैं किसी लाभार्थी का रिकॉर्ड केवल अपने स्वास्थ्य केंद्र के अपने काम के लिए और केवल ज़रूरत होने पर "
    "खोलूँगा/खोलूँगी, और सही उद्देश्य बताऊँगा/बताऊँगी। मैं कोई रिकॉर्ड, कोड या पासवर्ड साझा, कॉपी, फ़ोटो या "
    "आगे नहीं भेजूँगा/भेजूँगी, और किसी और को अपना खाता या डिवाइस इस्तेमाल नहीं करने दूँगा/दूँगी। मैं जानता/जानती "
    "हूँ कि हर खोज मेरे नाम से दर्ज होती है और उसकी समीक्षा होती है, और दुरुपयोग से मेरा एक्सेस बंद होगा और "
    "क़ानून के तहत रिपोर्ट किया जा सकता है।"
)


def forwards(apps, schema_editor):
    apps.get_model("accounts", "Undertaking").objects.get_or_create(version=1, defaults={"text": TEXT, "text_hi": TEXT_HI})
    grant(apps, groups=GROUPS, permissions=_added(apps))


def backwards(apps, schema_editor):
    revoke(apps, groups=GROUPS, permissions=_added(apps))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_onboarding_and_reviews")]
    operations = [migrations.RunPython(forwards, backwards)]
