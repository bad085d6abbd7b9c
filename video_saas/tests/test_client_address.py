import pytest

from video_saas.client_address import client_address


def test_without_trusted_proxies_the_tcp_peer_is_the_client_whatever_the_headers_say(settings):
    settings.TRUSTED_PROXY_HOPS = 0
    meta = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "203.0.113.1"}
    assert client_address(meta) == "198.51.100.7"


def test_behind_one_proxy_the_client_is_the_last_forwarded_entry_not_one_it_wrote_itself(settings):
    settings.TRUSTED_PROXY_HOPS = 1
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.9"}
    assert client_address(meta) == "203.0.113.9"


def test_behind_two_proxies_the_client_is_the_second_entry_from_the_right(settings):
    settings.TRUSTED_PROXY_HOPS = 2
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "9.9.9.9,203.0.113.9 , 10.0.0.1"}
    assert client_address(meta) == "203.0.113.9"


@pytest.mark.parametrize("forwarded", ["", "not-an-address", "203.0.113.9"])
def test_a_missing_short_or_malformed_header_falls_back_to_the_peer(settings, forwarded):
    settings.TRUSTED_PROXY_HOPS = 2 if forwarded == "203.0.113.9" else 1
    assert client_address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": forwarded}) == "10.0.0.2"


def test_addresses_are_normalised_so_one_client_cannot_count_as_two(settings):
    settings.TRUSTED_PROXY_HOPS = 1
    assert client_address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "2001:DB8:0:0::1"}) == "2001:db8::1"


def test_no_address_at_all_is_unknown(settings):
    settings.TRUSTED_PROXY_HOPS = 0
    assert client_address({}) == "unknown"
