"""Keep the fetcher off addresses a public-web archiver has no business reaching (SSRF guard).

A link in a feed or a redirect can point anywhere: at the machine morgue runs on (loopback), the
office network (RFC 1918), the cloud metadata service (169.254.169.254, link-local) and so on.
`AddressPolicy` names the rule a resolved address breaks, unless `FetchConfig.allow` lists its
network or the host name. `GuardedBackend` is an httpcore network backend that resolves the host
itself, checks every address it got, and then connects to exactly the address it checked, never
to a name that could resolve differently a second time (DNS rebinding). Every connection,
robots.txt and redirect hops included, goes through it, so no packet reaches a refused address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable

import httpcore

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]


class AddressRefused(Exception):
    """Raised inside the transport; the fetcher turns it into `BlockedAddress(url, rule)`."""

    def __init__(self, host: str, address: str, rule: str) -> None:
        self.host = host
        self.address = address
        self.rule = rule
        shown = host if host == address else f"{host} ({address})"
        super().__init__(f"{shown} is a {rule} (allow it with network.allow)")


def address_rule(ip: IPAddress) -> str | None:
    """The rule a public-web fetch breaks by connecting to `ip`, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address reach that address: mapped (::ffff:a.b.c.d),
        # 6to4 (2002:AABB:CCDD::) and NAT64 (64:ff9b::a.b.c.d, routed by a DNS64 network's
        # gateway), so 64:ff9b::a9fe:a9fe is the metadata service. Judge the IPv4 inside.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_rule(embedded)
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_private:
        return "private address"
    if ip.is_reserved:
        return "reserved address"
    if not ip.is_global:
        return "non-public address"
    return None


class AddressPolicy:
    """Which addresses may be connected to: public ones, plus what `allow` lists.

    `allow` entries are CIDRs or single addresses (`127.0.0.1`, `10.0.0.0/8`, `::1`) or host
    names (`intranet.example`), the latter permitting that name whatever it resolves to.
    """

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self._networks: list[IPNetwork] = []
        self._hosts: set[str] = set()
        for entry in allow:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._hosts.add(entry.lower().rstrip("."))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self._hosts

    def refusal(self, ip: IPAddress) -> str | None:
        """The rule `ip` breaks, or None when it may be connected to."""
        rule = address_rule(ip)
        if rule is None or any(ip in net for net in self._networks):
            return None
        return rule

    def check(self, host: str, addresses: Iterable[str]) -> list[str]:
        """The addresses, all checked; raises AddressRefused naming the first rule broken.

        One refused address refuses the host: a name that mixes public and private addresses
        is exactly what a rebinding attack looks like.
        """
        checked = list(addresses)
        if self.host_allowed(host):
            return checked
        for address in checked:
            rule = self.refusal(ipaddress.ip_address(address))
            if rule is not None:
                raise AddressRefused(host, address, rule)
        return checked


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host:port, in its order, deduplicated."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore backend that connects only to addresses the policy accepts.

    It resolves the name once, checks all addresses, and hands the inner backend the checked
    address itself, so nothing can re-resolve the name between check and connect. TLS still
    uses the URL's host name for SNI and certificate checks (httpcore passes it separately).
    """

    def __init__(
        self,
        policy: AddressPolicy,
        resolve: Resolver = system_resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self._resolve = resolve
        self._inner = inner or httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """Resolve and check host: the addresses that may be connected to, or AddressRefused."""
        literal = _literal(host)
        if literal is not None:
            return self.policy.check(host, [literal])
        try:
            async with asyncio.timeout(timeout):
                found = await self._resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except (OSError, UnicodeError) as exc:
            # UnicodeError: the resolver's IDNA step refuses labels over 63 characters
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not found:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        return self.policy.check(host, found)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.addresses(host, port, timeout)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                log.debug("connect to %s (%s) failed: %s", host, address, exc)
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
