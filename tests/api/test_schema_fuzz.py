"""Property-based check of the whole API against its own schema (schemathesis, in-process).

Every documented operation is called with generated data as a clerk holding a token, and again
as an operator admin (who may call the operations a clerk is refused: reconciliation runs,
review decisions, sanctions, reports); each answer must not be a 5xx and must conform to the
schema (status code, content type, body), and an operation that declares authentication must
refuse the same call without it.
Settings: ./schemathesis.toml (max-examples, and the settings DRF needs for schema fuzzing).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from accounts.models import ApiToken
from outlets.models import StarterPack
from subscribers import services
from tests.conftest import buyer_data, photo_upload
from tests.factories import StarterPackFactory

# Not registration_portal.wsgi: it defaults to the production settings. pytest-django has
# configured the test settings already; build the WSGI app on them. (Loaded at import, not
# through schemathesis.pytest.from_fixture: that breaks on pytest 9, no `Function._nodeid`.)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
operator_schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())

CLERK_TOKEN = "fuzz0clerk0token0000000000000000000000"
OPERATOR_TOKEN = "fuzz0operator0token00000000000000000000"


@schema.auth(refresh_interval=None, retry_on=[])
class ClerkToken:
    """The clerk's token as *configured* auth, not a plain header: schemathesis then knows the
    credentials are real, drops the random session cookie it would generate, and probes each
    operation without them (ignored_auth)."""

    def get(self, case, context):
        return CLERK_TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@operator_schema.auth(refresh_interval=None, retry_on=[])
class OperatorToken:
    def get(self, case, context):
        return OPERATOR_TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


@pytest.fixture
def keep_db_connection():
    """Raw WSGI calls fire close_old_connections, which would close the test's connection
    (inside its transaction) on PostgreSQL. Django's test client does the same trick."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def clerk_with_data(clerk, pack, outlet):
    """The token's clerk, with stock and one registration so reads have something to show."""
    ApiToken.objects.issue(user=clerk, key=CLERK_TOKEN)
    StarterPackFactory.create_batch(3, outlet=outlet, status=StarterPack.Status.IN_STOCK)
    services.registration_create(
        clerk=clerk, data=buyer_data(pack), id_photo=photo_upload(), face_photo=photo_upload()
    )
    return clerk


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_db_connection", "clerk_with_data")
@schema.parametrize()
# The clerk's data is shared by every generated call on purpose: only the answers are checked.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_api_conforms_to_its_schema(case):
    case.call_and_validate()


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_db_connection", "clerk_with_data")
@operator_schema.parametrize()
# Fewer examples: the operator's pass is about the privileged paths a clerk never reaches.
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=8
)
def test_api_conforms_to_its_schema_for_an_operator(case, operator):
    if not ApiToken.objects.filter(digest=ApiToken.digest_of(OPERATOR_TOKEN)).exists():
        ApiToken.objects.issue(user=operator, key=OPERATOR_TOKEN)
    case.call_and_validate()


# --- the holder's door: its public operations and those a verified holder's Bearer token opens --
holder_schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", get_wsgi_application()
).include(path_regex="^/api/v1/holder/")
HOLDER_TOKEN = "fuzz0holder0token000000000000000000000"


@holder_schema.auth(refresh_interval=None, retry_on=[])
class HolderBearer:
    def get(self, case, context):
        return HOLDER_TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def verified_holder(outlet):
    """A verified holder session (token known) on a NIK holding two numbers."""
    from datetime import timedelta

    from django.utils import timezone

    from holders.hashing import secret_hash
    from holders.models import HolderSession
    from tests.holders.conftest import make_person

    person = make_person(outlet, numbers=2)
    now = timezone.now()
    HolderSession.objects.create(
        nik_digest=person.registrations[0].id_number_digest,
        nik_masked="3171********0000",
        msisdn=person.msisdns[0],
        client_digest="x",
        matched=True,
        code_hash="",
        code_expires_at=now,
        verified_at=now,
        token_hash=secret_hash("token", HOLDER_TOKEN),
        token_expires_at=now + timedelta(days=1),
        created_at=now - timedelta(days=1),
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_db_connection", "verified_holder")
@holder_schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_holder_api_conforms_to_its_schema(case):
    case.call_and_validate()
