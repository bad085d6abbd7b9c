"""The one page-number pagination of every list in the API."""

from __future__ import annotations

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination


class StrictPageNumberPagination(PageNumberPagination):
    """`?page=` must be a page number when it is sent: an empty or malformed one is a 404 like an out-of-range one
    (DRF's own takes an empty value as page 1, which the schema's integer does not allow)."""

    def get_page_number(self, request, paginator):
        sent = request.query_params.get(self.page_query_param)
        if sent is not None and not (sent.isdigit() or sent == "last"):
            raise NotFound(self.invalid_page_message.format(page_number=sent, message="Not a page number."))
        return super().get_page_number(request, paginator)
