"""factory_boy factories: small, deterministic data for the demo personas (README)."""

import factory

from accounts.models import User
from identity.idgen import make_iccid, make_msisdn
from outlets.models import Dealer, DealerAdmin, Outlet, OutletStaff, StarterPack


class DealerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dealer
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"AD{n:04d}")
    name = factory.Sequence(lambda n: f"Dealer {n}")


class OutletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Outlet

    dealer = factory.SubFactory(DealerFactory)
    roid = factory.Sequence(lambda n: f"ROTEST{n:06d}")
    name = factory.Sequence(lambda n: f"Konter Pulsa {n}")
    owner_name = "Budi"
    address = "Jl. Merdeka 1"
    region = "Jakarta Selatan"
    province = "31"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-Word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutletStaff

    user = factory.SubFactory(UserFactory, role=User.Role.OUTLET_STAFF)
    outlet = factory.SubFactory(OutletFactory)


class DealerAdminFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DealerAdmin

    user = factory.SubFactory(UserFactory, role=User.Role.DEALER_ADMIN)
    dealer = factory.SubFactory(DealerFactory)


class StarterPackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StarterPack

    msisdn = factory.Sequence(lambda n: make_msisdn(10_000 + n))
    iccid = factory.Sequence(lambda n: make_iccid(10_000 + n))
    outlet = factory.SubFactory(OutletFactory)
    dealer = factory.SelfAttribute("outlet.dealer")
