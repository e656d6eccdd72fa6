"""Address safety: refused addresses get no packet, on the first hop, on redirects, after DNS."""

from __future__ import annotations

import ipaddress

import pytest

from scraper.errors import BlockedAddress
from scraper.fetch.netguard import AddressPolicy, AddressRefused, address_rule
from tests import fetch_support
from tests.fetch_support import Reply, fetch_config

local_site_server = fetch_support.local_site_server
local_site = fetch_support.local_site
make_fetcher = fetch_support.make_fetcher


def resolver(table: dict[str, list[list[str]]], calls: list[str]):
    """DNS from a table: each name gives its answers in turn (the last one repeats)."""

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        answers = table[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return resolve


def test_private_addresses_are_refused_by_default(local_site, make_fetcher):
    local_site.route("/a", Reply())
    with pytest.raises(BlockedAddress, match="loopback address"):
        make_fetcher(fetch_config(allow=())).fetch(local_site.url("/a"))
    assert local_site.connections == {}


def test_a_link_to_another_loopback_address_is_refused(local_site, make_fetcher):
    local_site.route("/a", Reply())
    with pytest.raises(BlockedAddress, match=r"127\.0\.0\.2 is a loopback address"):
        make_fetcher().fetch(local_site.url("/a", address="127.0.0.2"))
    assert "127.0.0.2" not in local_site.connections


def test_a_redirect_to_a_refused_address_is_not_followed(local_site, make_fetcher):
    local_site.route("/go", Reply(302, b"", {"Location": local_site.url("/a", "127.0.0.2")}))
    with pytest.raises(BlockedAddress):
        make_fetcher().fetch(local_site.url("/go"))
    assert local_site.paths() == ["/robots.txt", "/go"]
    assert "127.0.0.2" not in local_site.connections


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::5", "private"),
        ("::ffff:127.0.0.2", "loopback"),
    ],
)
def test_names_resolving_to_internal_addresses_are_refused(make_fetcher, address, rule):
    calls: list[str] = []
    resolve = resolver({"news.example": [[address]]}, calls)
    with pytest.raises(BlockedAddress, match=rule):
        make_fetcher(resolve=resolve).fetch("http://news.example/a")
    assert calls == ["news.example"]


def test_a_name_with_one_internal_address_among_public_ones_is_refused(make_fetcher):
    resolve = resolver({"news.example": [["93.184.216.34", "127.0.0.2"]]}, [])
    with pytest.raises(BlockedAddress, match="loopback"):
        make_fetcher(resolve=resolve).fetch("http://news.example/a")


def test_each_connection_goes_to_the_address_just_checked(local_site, make_fetcher):
    # DNS rebinding: first answer allowed, later answers point elsewhere. Every new connection
    # resolves once, checks, and connects to what it checked; nothing reaches 127.0.0.2.
    port = local_site.port()
    closing = {"Content-Type": "text/html", "Connection": "close"}
    local_site.route("/robots.txt", Reply(404, b"", {"Connection": "close"}))
    local_site.route("/a", Reply(200, b"<html></html>", closing))
    calls: list[str] = []
    resolve = resolver({"rebind.example": [["127.0.0.1"], ["127.0.0.2"]]}, calls)
    fetcher = make_fetcher(resolve=resolve)
    with pytest.raises(BlockedAddress, match=r"rebind\.example \(127\.0\.0\.2\)"):
        fetcher.fetch(f"http://rebind.example:{port}/a")
    assert calls == ["rebind.example", "rebind.example"]
    assert local_site.paths() == ["/robots.txt"]
    assert "127.0.0.2" not in local_site.connections


def test_allow_accepts_host_names_and_networks(local_site, make_fetcher):
    local_site.route("/a", Reply())
    resolve = resolver({"intranet.test": [["127.0.0.2"]]}, [])
    fetcher = make_fetcher(fetch_config(allow=("intranet.test",)), resolve=resolve)
    port = local_site.port("127.0.0.2")
    assert fetcher.fetch(f"http://intranet.test:{port}/a").status == 200
    fetcher = make_fetcher(fetch_config(allow=("127.0.0.0/8",)))
    assert fetcher.fetch(local_site.url("/a", "127.0.0.2")).status == 200
    assert [h.host for h in local_site.hits("/a", "127.0.0.2")] == [
        f"intranet.test:{port}",
        f"127.0.0.2:{port}",
    ]


def test_policy_rules():
    policy = AddressPolicy(("10.0.0.0/8", "::1", "ok.example"))
    assert policy.refusal(ipaddress.ip_address("10.9.9.9")) is None
    assert policy.refusal(ipaddress.ip_address("::1")) is None
    assert policy.refusal(ipaddress.ip_address("192.168.1.1")) == "private address"
    assert policy.check("OK.example.", ["192.168.1.1"]) == ["192.168.1.1"]
    with pytest.raises(AddressRefused, match="private address"):
        policy.check("other.example", ["8.8.8.8", "192.168.1.1"])
    assert address_rule(ipaddress.ip_address("8.8.8.8")) is None
    assert address_rule(ipaddress.ip_address("100.64.0.1")) == "non-public address"
