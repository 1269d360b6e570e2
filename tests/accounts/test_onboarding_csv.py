"""Bulk onboarding from a CSV file: every row checked first, a precise report, all or nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.exceptions import DomainError, NotPermitted
from accounts.models import AccountEvent, Invitation, Notification, Status, User
from accounts.services.onboarding_csv import invitations_import
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
BASE = "https://prahari.example/"
HEADER = "first_name,last_name,mobile,email,username,facility\n"


def upload(world, text: str | bytes, **kwargs):
    data = text.encode() if isinstance(text, str) else text
    return invitations_import(acting_user=world.supervisor, facility=world.facility, data=data, base_url=BASE, **kwargs)


def rows(n: int, start: int = 0) -> str:
    return "".join(f"Asha,Worker{i},+9190{i:08d},,,\n" for i in range(start, start + n))


def invited() -> int:
    return User.objects.filter(status=Status.INVITED).count()


def test_a_clean_file_invites_every_row(world):
    report = upload(
        world, HEADER + "Sunita,Devi,98765 43210,sunita@example.org,,\nRavi,Kumar,9000000001,,ravi.k,1090100002\n"
    )
    assert (report.rows, report.imported, report.problems) == (2, 2, [])
    sunita, ravi = User.objects.get(username="sunita.devi"), User.objects.get(username="ravi.k")
    assert (sunita.facility, ravi.facility) == (world.facility, world.other_facility)
    assert sunita.mobile == "+919876543210" and sunita.email == "sunita@example.org"
    assert Invitation.objects.filter(state="open").count() == 2
    assert Notification.objects.filter(kind="invitation").count() == 3  # two SMS, one e-mail
    assert sunita.history.get().history_user == world.supervisor
    assert sunita.groups.get().name == "worker"


def test_a_file_with_bad_rows_imports_nothing_and_says_exactly_why(world):
    User.objects.filter(pk=world.colleague.pk).update(mobile="+919111111111")
    text = HEADER + (
        "Sunita,Devi,9876543210,,,\n"  # line 2: fine
        "Geeta,Devi,9876543210,,,\n"  # line 3: same mobile as line 2
        "Mohan,Lal,12345,,,\n"  # line 4: malformed
        "Kiran,Rao,9111111111,,,\n"  # line 5: an existing account's mobile
        "Anil,Kumar,9000000005,,,1090200001\n"  # line 6: a facility of another district
        ",Singh,9000000006,not-mail,,\n"  # line 7: no first name, bad e-mail
        "Ravi,Kumar,9000000007,,ravi,\n"  # line 8: username of an existing account
        "only,three,values\n"  # line 9: wrong number of values
    )
    report = upload(world, text)
    assert report.imported == 0 and invited() == 0 and not AccountEvent.objects.exists()
    found = {p.line: "; ".join(p.reasons) for p in report.problems}
    assert sorted(found) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "also on line 3" in found[2] and "also on line 2" in found[3]
    assert "12345 is not a 10-digit Indian mobile number" in found[4]
    assert "+919111111111 already belongs to an account" in found[5]
    assert "facility 1090200001 is not a facility in your jurisdiction" in found[6]
    assert "first name is missing" in found[7] and "not-mail is not valid" in found[7]
    assert "username ravi is already taken" in found[8]
    assert "has 3 values; the header has 6" in found[9]


def test_importing_the_valid_rows_must_be_asked_for(world):
    text = HEADER + "Sunita,Devi,9876543210,,,\nMohan,Lal,12345,,,\n"
    report = upload(world, text, import_valid_rows=True)
    assert (report.imported, [p.line for p in report.problems]) == (1, [3])
    assert list(User.objects.filter(status=Status.INVITED).values_list("username", flat=True)) == ["sunita.devi"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("first_name,mobile\nAsha,9876543210\n", "Missing column(s): last_name"),
        ("Naam,Mobile\n", "Missing column(s)"),
        (b"first_name,last_name,mobile\n\xe0\xa4\xb8\xe0\xa5,Devi,9876543210\n", "not UTF-8 text (line 2)"),
        ("", "The file is empty"),
        ("first_name,last_name,mobile\n", "no rows"),
        ("first_name,last_name,mobile,age\nA,B,9876543210,30\n", "Unknown column(s): age"),
    ],
)
def test_unreadable_files_are_refused_whole(world, data, message):
    with pytest.raises(DomainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        upload(world, data)
    assert invited() == 0


def test_hindi_names_and_a_byte_order_mark_are_fine(world):
    report = upload(world, ("\ufeff" + "first_name,last_name,mobile\nसुनीता,देवी,9876543210\n").encode())
    assert report.imported == 1 and User.objects.get(status=Status.INVITED).first_name == "सुनीता"


def test_only_facilities_in_the_jurisdiction(world):
    with pytest.raises(NotPermitted):
        invitations_import(
            acting_user=world.supervisor, facility=world.far_facility, data=(HEADER + rows(1)).encode(), base_url=BASE
        )


def test_ten_thousand_rows_in_a_bounded_number_of_queries(world):
    with CaptureQueriesContext(connection) as queries:
        report = upload(world, HEADER + rows(10_000))
    assert (report.imported, invited()) == (10_000, 10_000)
    # Set-based: batches of 1,000 rows per INSERT, never a query per row.
    assert len(queries) < report.rows / 50, len(queries)
    assert User.history.filter(history_user=world.supervisor).count() == 10_000
    assert len(set(User.objects.filter(status=Status.INVITED).values_list("username", flat=True))) == 10_000


def test_ten_thousand_rows_with_one_bad_row_import_nothing(world):
    report = upload(world, HEADER + rows(5_000) + "Bad,Row,123,,,\n" + rows(4_999, start=5_000))
    assert (report.imported, [p.line for p in report.problems]) == (0, [5_002])
    assert invited() == 0


def test_the_console_upload_page(client, world):
    sign_in(client, world.supervisor)
    url = reverse("admin:accounts_user_invite_file")
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("staff.csv", (HEADER + "Mohan,Lal,12345,,,\n").encode(), content_type="text/csv")
    page = client.post(url, {"facility": world.facility.pk, "file": bad})
    assert page.status_code == 200 and b"not a 10-digit Indian mobile number" in page.content
    assert b"Nothing was imported" in page.content and invited() == 0
    good = SimpleUploadedFile("staff.csv", (HEADER + rows(3)).encode(), content_type="text/csv")
    page = client.post(url, {"facility": world.facility.pk, "file": good}, follow=True)
    assert b"3 of 3 rows invited" in page.content and invited() == 3
    far = SimpleUploadedFile("staff.csv", (HEADER + rows(1, 10)).encode(), content_type="text/csv")
    page = client.post(url, {"facility": world.far_facility.pk, "file": far})
    assert b"Select a valid choice" in page.content and invited() == 3


def test_an_oversized_upload_is_a_form_error_not_a_crash(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.services.onboarding_csv import MAX_BYTES

    sign_in(client, world.supervisor)
    big = SimpleUploadedFile("staff.csv", (HEADER + "x" * (MAX_BYTES + 10)).encode(), content_type="text/csv")
    page = client.post(reverse("admin:accounts_user_invite_file"), {"facility": world.facility.pk, "file": big})
    assert page.status_code == 200 and b"larger than 5 MB" in page.content and invited() == 0
