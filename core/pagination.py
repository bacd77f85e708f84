"""Pagination that stays fast on tables of a hundred million rows.

``COUNT(*)`` over an operator-wide table costs seconds; people paging a list never go 400 pages
deep — they search or filter. The count is therefore capped: ``COUNT`` over at most
``COUNT_CAP + 1`` rows (a LIMIT subquery), shown as "10 000+" when it hits the cap.
"""

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if hasattr(object_list, "query"):
            return object_list[: COUNT_CAP + 1].count() if COUNT_CAP else object_list.count()
        return len(object_list)

    @property
    def count_is_capped(self) -> bool:
        return self.count > COUNT_CAP


class CappedPageNumberPagination(PageNumberPagination):
    """The API's pagination: ``count`` is exact up to 10 000 and 10 001 beyond (use filters)."""

    django_paginator_class = CappedCountPaginator
    page_size_query_param = "page_size"
    max_page_size = 200
