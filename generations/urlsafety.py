"""Checks that a URL a user pasted points at a public http(s) address before anyone fetches it.

Users paste image and video links into forms; the studio, and the upstream on its behalf, will
fetch them. `check_public_url` refuses a link that could make either of them reach into a private
network: a non-http(s) scheme, credentials, a host that is private, loopback, link-local, a cloud
metadata service or otherwise not public, including such an address hidden behind an odd
encoding (decimal, hex, octal or shortened IPv4, IPv4 inside IPv6, percent-encoding, unicode
dots and full-width digits, backslashes, IPv6 zone ids).

The URL is parsed the way a browser (the WHATWG URL standard) and `inet_aton` would read it, and
anything on which parsers are known to disagree is refused rather than interpreted. The URL
returned is rebuilt from what was checked (lower-case scheme, ASCII host, canonical IP literal),
so the fetcher connects to the host that was checked.

DNS rebinding: a host name is resolved here and every address it resolves to must be public,
but the name may resolve differently when it is fetched. Whoever fetches the URL must connect to
an address it has checked with `is_public_ip` (pin the address resolved here, or check the
address of the connection it opens) and must check every redirect again with
`check_public_url`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

MAX_LENGTH = 2048
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Names that only mean something inside a network. `metadata.google.internal` is under
# `.internal`; host names without a dot are refused too, since a resolver completes them with
# its search domains (`http://metadata/` reaches the metadata server on Google Cloud).
LOCAL_NAMES = ("localhost", "localhost.localdomain", "metadata.google.internal")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")

# Explicit lists, so the answer does not depend on the Python version's idea of `is_global`
# (3.11 calls multicast and IPv4-compatible IPv6 addresses global).
BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, including the 169.254.169.254 metadata service
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including broadcast 255.255.255.255
    )
)
BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/8",  # unspecified, loopback, IPv4-compatible (mapped ones are checked before)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, including Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

MSG_EMPTY = "Paste a link starting with http:// or https://."
MSG_TOO_LONG = f"This URL is too long; links can be at most {MAX_LENGTH} characters."
MSG_HIDDEN_CHARACTERS = (
    "This URL contains spaces or hidden characters; "
    "paste the link exactly as your browser shows it."
)
MSG_BACKSLASH = "This URL contains a backslash; paste a plain http(s) link."
MSG_NO_SCHEME = "This URL has no scheme; paste a full link starting with http:// or https://."
MSG_SCHEME = "Only http:// and https:// links can be used here."
MSG_CREDENTIALS = "This URL contains a username or password; paste a link without them."
MSG_NO_HOST = "This URL has no host name; paste a full http(s) link."
MSG_PORT = "This URL has an invalid port number."
MSG_ENCODED_HOST = "This URL's host name is percent-encoded; paste the plain address."
MSG_INVALID_HOST = "This URL's host name is not valid."
MSG_LOCAL_NAME = "This URL points at a local or internal host name; paste a public http(s) link."
MSG_PRIVATE = "This URL points at a private network address; paste a public http(s) link."
MSG_RESOLVES_PRIVATE = (
    "This URL's host leads to a private network address; paste a public http(s) link."
)

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_HOST_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_HEX = re.compile(r"0x[0-9a-f]*")
_OCTAL = re.compile(r"0[0-7]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class UnsafeURL(ValueError):
    """Carries a user-facing message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Target:
    """A checked URL and where to connect for it: `addresses` are the ones checked (connect to
    one of these, never resolve `host` again)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def check_public_url(url: str, *, resolve: Resolver | None = None) -> str:
    """Returns the URL, normalised (scheme and host lower-cased, whitespace stripped), if it is a
    public http(s) URL; raises UnsafeURL with a sentence otherwise.

    The returned URL is rebuilt from what was checked: an international host name is returned
    in its ASCII (punycode) form, a trailing dot is dropped, IP literals are written in canonical
    form (`http://0x5db8d822/` becomes `http://93.184.216.34/`) and the port loses leading
    zeros. The path, query and fragment are returned as they were.

    `resolve(host, port)` returns the IP addresses a host name resolves to; by default it asks
    `socket.getaddrinfo` for every address family. It is never called for IP literals. Every
    address must be public: one private address among public ones is refused, as a defence
    against DNS rebinding at check time. The name may still resolve differently later, so the
    fetcher must pin the address checked here, or check the address it connects to with
    `is_public_ip`, and check each redirect again.
    """
    return check_target(url, resolve=resolve).url


def check_target(
    url: str, *, resolve: Resolver | None = None, trusted: Callable[[str], bool] = lambda h: False
) -> Target:
    """`check_public_url`, returning the addresses checked as well, for a fetcher to connect to.
    A host for which `trusted(host)` is true (a private host the studio was told to use, such as
    the sandbox) may resolve to private addresses; every other rule still holds."""
    url = url.strip()
    if not url:
        raise UnsafeURL(MSG_EMPTY)
    if len(url) > MAX_LENGTH:
        raise UnsafeURL(MSG_TOO_LONG)
    if any(_is_hidden(char) for char in url):
        raise UnsafeURL(MSG_HIDDEN_CHARACTERS)
    if "\\" in url:
        # Browsers read a backslash as a slash, other parsers as part of the user name.
        raise UnsafeURL(MSG_BACKSLASH)

    match = _SCHEME.match(url)
    if match is None:
        raise UnsafeURL(MSG_NO_SCHEME)
    scheme = match.group()[:-1].lower()
    if scheme not in SCHEMES:
        raise UnsafeURL(MSG_SCHEME)
    rest = url[match.end() :]
    if not rest.startswith("//"):
        raise UnsafeURL(MSG_NO_SCHEME)
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]

    if "@" in authority:
        raise UnsafeURL(MSG_CREDENTIALS)
    host_text, port = _split_port(authority)
    if not host_text:
        raise UnsafeURL(MSG_NO_HOST)

    address, host = _parse_host(host_text)
    port_part = f":{port}" if port is not None else ""
    real_port = port or DEFAULT_PORTS[scheme]
    if address is not None:
        if not trusted(host) and not _is_public(address):
            raise UnsafeURL(MSG_PRIVATE)
        addresses: tuple[str, ...] = (str(address),)
    else:
        addresses = _check_name(host, real_port, resolve or _resolve, trusted=trusted(host))
    return Target(f"{scheme}://{host}{port_part}{tail}", scheme, host, real_port, addresses)


def is_public_ip(ip: str) -> bool:
    """Whether an IP address (as a string, IPv6 possibly with a zone id) is publicly routable.

    An IPv4 address inside an IPv6 one (mapped, NAT64, 6to4) is judged by the IPv4 address;
    Teredo, IPv4-compatible and multicast addresses are never public. Anything that does not
    parse is not public.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return _is_public(address)


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        if address.ipv4_mapped is not None:
            return _is_public(address.ipv4_mapped)
        if address in NAT64:
            return _is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.teredo is not None:
            return False
        if address.sixtofour is not None and not _is_public(address.sixtofour):
            return False
        blocked = BLOCKED_V6
    else:
        blocked = BLOCKED_V4
    if any(address in network for network in blocked):
        return False
    return address.is_global and not address.is_multicast


def _is_hidden(char: str) -> bool:
    """Whitespace, control and formatting characters, which parsers drop or read differently."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")


def _split_port(authority: str) -> tuple[str, int | None]:
    """Splits `host:port` (the host possibly a bracketed IPv6 literal) into host and port."""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise UnsafeURL(MSG_INVALID_HOST)
        host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise UnsafeURL(MSG_INVALID_HOST)
        port_text = after[1:] if after else None
    else:
        host, colon, port_text = authority.partition(":")
        if not colon:
            port_text = None
    if port_text is None:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise UnsafeURL(MSG_PORT)
    return host, int(port_text)


def _parse_host(text: str) -> tuple[IPAddress | None, str]:
    """Returns the host's IP address if it is a literal (else None) and its normalised form."""
    if text.startswith("["):
        inner = text[1:-1]
        if "%" in inner:
            # A zone id names a network interface; it only makes sense for local addresses.
            raise UnsafeURL(MSG_PRIVATE)
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise UnsafeURL(MSG_INVALID_HOST) from None
        return address, f"[{address.compressed}]"

    if "%" in text:
        raise UnsafeURL(MSG_ENCODED_HOST)
    if "[" in text or "]" in text:
        raise UnsafeURL(MSG_INVALID_HOST)
    if not text.isascii():
        # What browsers do, near enough: map full-width forms and the ideographic dots (。．｡)
        # to ASCII, then punycode. An address spelt in full-width digits becomes an address.
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise UnsafeURL(MSG_INVALID_HOST) from None
    host = text.lower()
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if not host or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise UnsafeURL(MSG_INVALID_HOST)
    if len(host) > 253:
        raise UnsafeURL(MSG_INVALID_HOST)

    last = labels[-1]
    if last.isdigit() or _HEX.fullmatch(last):
        # A host ending in a number is an IPv4 address to browsers and to inet_aton.
        address = _parse_ipv4(labels)
        if address is None:
            raise UnsafeURL(MSG_INVALID_HOST)
        return address, str(address)
    return None, host


def _parse_ipv4(parts: list[str]) -> ipaddress.IPv4Address | None:
    """Reads an IPv4 address as inet_aton does: 1 to 4 parts, each decimal, 0x-hex or 0-octal;
    every part but the last is one byte and the last fills the remaining bytes."""
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        if _HEX.fullmatch(part):
            numbers.append(int(part[2:] or "0", 16))
        elif _OCTAL.fullmatch(part):
            numbers.append(int(part, 8))
        elif _DECIMAL.fullmatch(part):
            numbers.append(int(part, 10))
        else:
            return None
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _check_name(host: str, port: int, resolve: Resolver, *, trusted: bool) -> tuple[str, ...]:
    if not trusted and ("." not in host or host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES)):
        raise UnsafeURL(MSG_LOCAL_NAME)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise UnsafeURL(f"We could not find the host {host}; check the link.")
    if not trusted and not all(is_public_ip(address) for address in addresses):
        raise UnsafeURL(MSG_RESOLVES_PRIVATE)
    return tuple(addresses)


def _resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in every address family."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
