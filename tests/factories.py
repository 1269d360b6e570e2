"""factory_boy factories for the jurisdiction tree and accounts (accounts get their role group too)."""

import factory
from django.contrib.auth.models import Group

from accounts.models import District, Facility, Role, State, Status, User


class StateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = State
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{(n % 89) + 10:02d}")
    name = factory.Sequence(lambda n: f"State {n}")


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District

    state = factory.SubFactory(StateFactory)
    code = factory.Sequence(lambda n: f"{(n % 999) + 1}")
    name = factory.Sequence(lambda n: f"District {n}")


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility

    district = factory.SubFactory(DistrictFactory)
    code = factory.Sequence(lambda n: f"{1000000000 + n}")
    name = factory.Sequence(lambda n: f"PHC {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Asha"
    last_name = factory.Sequence(lambda n: f"Devi{n}")
    role = Role.WORKER
    status = Status.ACTIVE
    facility = factory.SubFactory(FacilityFactory)
    mobile = factory.Sequence(lambda n: f"+9198{n:08d}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.in")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def role_group(obj, create, extracted, **kwargs):
        if create:
            obj.groups.set([Group.objects.get(name=obj.role)])


class WorkerFactory(UserFactory):
    role = Role.WORKER


class SupervisorFactory(UserFactory):
    role = Role.SUPERVISOR
    facility = None
    district = factory.SubFactory(DistrictFactory)
    is_staff = True


class StateAdminFactory(UserFactory):
    role = Role.STATE_ADMIN
    facility = None
    state = factory.SubFactory(StateFactory)
    is_staff = True
