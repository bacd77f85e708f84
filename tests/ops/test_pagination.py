"""The capped count keeps operator-wide lists fast; below the cap it is exact."""

import pytest

from core import pagination
from outlets.models import StarterPack
from tests.factories import StarterPackFactory


@pytest.mark.django_db
def test_count_is_exact_below_the_cap_and_capped_above(monkeypatch, outlet):
    StarterPackFactory.create_batch(7, outlet=outlet)
    qs = StarterPack.objects.order_by("pk")
    assert pagination.CappedCountPaginator(qs, 3).count == 7

    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    paginator = pagination.CappedCountPaginator(qs, 3)
    assert paginator.count == 6
    assert paginator.count_is_capped
    assert paginator.num_pages == 2
    assert [p.pk for p in paginator.page(2)] == list(qs.values_list("pk", flat=True)[3:6])
