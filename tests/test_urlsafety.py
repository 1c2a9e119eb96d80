from __future__ import annotations

import contextlib
import socket

import pytest

from generations import urlsafety
from generations.urlsafety import UnsafeURL, check_public_url, is_public_ip

DNS = {
    "example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "cdn.example.org": ["151.101.1.69"],
    "xn--bcher-kva.de": ["81.169.145.78"],
    "rebind.example.net": ["10.0.0.5"],
    "mixed.example.net": ["93.184.216.34", "192.168.1.20"],
    "mapped.example.net": ["::ffff:127.0.0.1"],
    "metadata.example.net": ["169.254.169.254"],
    "scoped.example.net": ["fe80::1%eth0"],
}

PRIVATE = "private network address"
LOCAL_NAME = "local or internal host name"
INVALID_HOST = "host name is not valid"


def fake_resolve(host: str, port: int) -> list[str]:
    """A DNS that never touches the network; unknown names do not resolve."""
    return DNS.get(host, [])


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"looked up {host!r}")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch) -> None:
    """The default resolver must not be reached unless a test says so."""
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


def refusal(url: str, resolve=fake_resolve) -> str:
    with pytest.raises(UnsafeURL) as excinfo:
        check_public_url(url, resolve=resolve)
    return str(excinfo.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a.png", "https://example.com/a.png"),
        ("http://93.184.216.34/x.jpg", "http://93.184.216.34/x.jpg"),
        ("https://[2606:4700::1111]/", "https://[2606:4700::1111]/"),
        ("https://[2606:4700:0:0:0:0:0:1111]/", "https://[2606:4700::1111]/"),
        ("https://example.com/a.png?w=200&h=100#top", "https://example.com/a.png?w=200&h=100#top"),
        ("https://example.com?x=1", "https://example.com?x=1"),
        ("https://example.com", "https://example.com"),
        ("HTTPS://EXAMPLE.COM/Path/IMG.PNG", "https://example.com/Path/IMG.PNG"),
        ("HtTp://Cdn.Example.Org/v.mp4", "http://cdn.example.org/v.mp4"),
        ("  https://example.com/a.png \n", "https://example.com/a.png"),
        ("https://example.com./a.png", "https://example.com/a.png"),
        ("https://example.com:8443/a.png", "https://example.com:8443/a.png"),
        ("http://example.com:080/a.png", "http://example.com:80/a.png"),
        ("https://example.com/a@b.png", "https://example.com/a@b.png"),
        ("https://example.com/search?q=%41", "https://example.com/search?q=%41"),
        ("https://bücher.de/cover.jpg", "https://xn--bcher-kva.de/cover.jpg"),
        ("https://BÜCHER.de/cover.jpg", "https://xn--bcher-kva.de/cover.jpg"),
        # Odd spellings of a public address are fine, and come back in the usual form.
        ("http://1572395042/x.jpg", "http://93.184.216.34/x.jpg"),
        ("http://0x5db8d822/x.jpg", "http://93.184.216.34/x.jpg"),
        ("http://[::ffff:93.184.216.34]/", "http://[::ffff:5db8:d822]/"),
    ],
)
def test_it_accepts_public_http_urls_and_normalises_them(url: str, expected: str) -> None:
    assert check_public_url(url, resolve=fake_resolve) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # Empty, overlong, hidden characters
        ("", "Paste a link"),
        ("   \t ", "Paste a link"),
        ("https://example.com/" + "a" * 2029, "too long"),
        ("https://example.com/a b.png", "spaces or hidden characters"),
        ("http://127.0.0.1\t.example.com/", "spaces or hidden characters"),
        ("https://exam\u200bple.com/", "spaces or hidden characters"),
        ("http://127.0.0.1\x00.example.com/", "spaces or hidden characters"),
        # Schemes
        ("file:///etc/passwd", "Only http:// and https://"),
        ("ftp://example.com/a.png", "Only http:// and https://"),
        ("gopher://127.0.0.1:6379/_INFO", "Only http:// and https://"),
        ("data:image/png;base64,iVBORw0KGgo=", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("ws://example.com/", "Only http:// and https://"),
        ("example.com/a.png", "no scheme"),
        ("//example.com/a.png", "no scheme"),
        ("/a.png", "no scheme"),
        ("http:example.com/a.png", "no scheme"),
        ("http:/example.com/a.png", "no scheme"),
        # Credentials
        ("https://user:password@example.com/a.png", "username or password"),
        ("https://user@example.com/a.png", "username or password"),
        ("http://example.com@127.0.0.1/", "username or password"),
        ("http://127.0.0.1:80@example.com/", "username or password"),
        # Missing host
        ("http://", "no host name"),
        ("http:///example.com/a.png", "no host name"),
        ("https://:443/a.png", "no host name"),
        ("http://?x=1", "no host name"),
        # Ports
        ("http://example.com:0/", "invalid port"),
        ("http://example.com:65536/", "invalid port"),
        ("http://example.com:99999999999/", "invalid port"),
        ("http://example.com:-1/", "invalid port"),
        ("http://example.com:http/", "invalid port"),
        ("http://example.com:/", "invalid port"),
        ("http://example.com:８０/", "invalid port"),
        ("http://127.0.0.1:8080:80/", "invalid port"),
        ("http://[::1]:/", "invalid port"),
        # Local and internal names
        ("http://localhost/", LOCAL_NAME),
        ("http://LOCALHOST:8000/", LOCAL_NAME),
        ("http://localhost./", LOCAL_NAME),
        ("http://api.localhost/", LOCAL_NAME),
        ("http://printer.local/", LOCAL_NAME),
        ("http://db.corp.internal/", LOCAL_NAME),
        ("http://metadata.google.internal/computeMetadata/v1/", LOCAL_NAME),
        ("http://metadata.google.internal./computeMetadata/v1/", LOCAL_NAME),
        ("http://metadata/computeMetadata/v1/", LOCAL_NAME),
        ("http://router.home.arpa/", LOCAL_NAME),
        ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", LOCAL_NAME),
        ("http://localhost。/", LOCAL_NAME),
        # IPv4: private, loopback, link-local, metadata and other non-public ranges
        ("http://10.0.0.1/", PRIVATE),
        ("http://10.255.255.255/", PRIVATE),
        ("http://172.16.0.1/", PRIVATE),
        ("http://172.31.255.254/", PRIVATE),
        ("http://192.168.1.1/", PRIVATE),
        ("http://127.0.0.1/", PRIVATE),
        ("http://127.255.255.254:8000/admin", PRIVATE),
        ("http://169.254.169.254/latest/meta-data/", PRIVATE),
        ("http://169.254.0.1/", PRIVATE),
        ("http://0.0.0.0/", PRIVATE),
        ("http://0.1.2.3/", PRIVATE),
        ("http://100.64.0.1/", PRIVATE),
        ("http://100.127.255.254/", PRIVATE),
        ("http://224.0.0.1/", PRIVATE),
        ("http://239.255.255.250/", PRIVATE),
        ("http://240.0.0.1/", PRIVATE),
        ("http://255.255.255.255/", PRIVATE),
        ("http://198.18.0.1/", PRIVATE),
        ("http://198.19.255.254/", PRIVATE),
        ("http://192.0.2.1/", PRIVATE),
        ("http://198.51.100.7/", PRIVATE),
        ("http://203.0.113.9/", PRIVATE),
        ("http://192.0.0.1/", PRIVATE),
        # IPv6
        ("http://[::1]/", PRIVATE),
        ("http://[::]/", PRIVATE),
        ("http://[0:0:0:0:0:0:0:1]:8080/", PRIVATE),
        ("http://[fe80::1]/", PRIVATE),
        ("http://[febf::1]/", PRIVATE),
        ("http://[fc00::1]/", PRIVATE),
        ("http://[fd12:3456:789a::1]/", PRIVATE),
        ("http://[ff02::1]/", PRIVATE),
        ("http://[ff0e::1]/", PRIVATE),
        ("http://[fec0::1]/", PRIVATE),
        ("http://[2001:db8::1]/", PRIVATE),
        ("http://[::ffff:127.0.0.1]/", PRIVATE),
        ("http://[::ffff:7f00:1]/", PRIVATE),
        ("http://[::ffff:169.254.169.254]/", PRIVATE),
        ("http://[::ffff:10.0.0.1]/", PRIVATE),
        ("http://[::127.0.0.1]/", PRIVATE),
        ("http://[::93.184.216.34]/", PRIVATE),
        ("http://[64:ff9b::127.0.0.1]/", PRIVATE),
        ("http://[64:ff9b::a9fe:a9fe]/", PRIVATE),
        ("http://[64:ff9b:1::5db8:d822]/", PRIVATE),
        ("http://[2002:7f00:1::]/", PRIVATE),
        ("http://[2002:a9fe:a9fe::1]/", PRIVATE),
        ("http://[2002:c0a8:101::1]/", PRIVATE),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", PRIVATE),
        ("http://[2001::1]/", PRIVATE),
        ("http://[fe80::1%25eth0]/", PRIVATE),
        ("http://[fe80::1%eth0]/", PRIVATE),
        ("http://[2606:4700::1111%251]/", PRIVATE),
        # Odd encodings of IPv4
        ("http://2130706433/", PRIVATE),
        ("http://0x7f000001/", PRIVATE),
        ("http://0X7F000001/", PRIVATE),
        ("http://0x7f.0.0.1/", PRIVATE),
        ("http://0x7f.0x0.0x0.0x1/", PRIVATE),
        ("http://0177.0.0.1/", PRIVATE),
        ("http://0177.0000.0000.0001/", PRIVATE),
        ("http://017700000001/", PRIVATE),
        ("http://127.1/", PRIVATE),
        ("http://127.0.1/", PRIVATE),
        ("http://0x7f.1/", PRIVATE),
        ("http://0177.0x0.1/", PRIVATE),
        ("http://10.0x0.0.01/", PRIVATE),
        ("http://0/", PRIVATE),
        ("http://0x/", PRIVATE),
        ("http://3232235777/", PRIVATE),
        ("http://0xa9fea9fe/latest/meta-data/", PRIVATE),
        ("http://169.254.43518/", PRIVATE),
        ("http://127.0.0.1./", PRIVATE),
        ("http://0x7f000001./", PRIVATE),
        # Unicode dots, full-width digits
        ("http://127。0。0。1/", PRIVATE),
        ("http://127．0．0．1/", PRIVATE),
        ("http://127｡0｡0｡1/", PRIVATE),
        ("http://１２７.０.０.１/", PRIVATE),
        ("http://１６９。２５４。１６９。２５４/", PRIVATE),
        # Hosts that are not valid, or only look like addresses
        ("http://%31%32%37.0.0.1/", "percent-encoded"),
        ("http://127.0.0.%31/", "percent-encoded"),
        ("http://%6c%6f%63%61%6c%68%6f%73%74/", "percent-encoded"),
        ("http://evil.com\\@127.0.0.1/", "backslash"),
        ("http:\\\\127.0.0.1\\", "backslash"),
        ("http://example.com\\.127.0.0.1/", "backslash"),
        ("http://256.0.0.1/", INVALID_HOST),
        ("http://127.0.0.256/", INVALID_HOST),
        ("http://4294967296/", INVALID_HOST),
        ("http://1.2.3.4.5/", INVALID_HOST),
        ("http://08.0.0.1/", INVALID_HOST),
        ("http://0x7g.0.0.1/", INVALID_HOST),
        ("http://1_0.0.0.1/", INVALID_HOST),
        ("http://example.0x7f/", INVALID_HOST),
        ("http://example.127/", INVALID_HOST),
        ("http://127..0.1/", INVALID_HOST),
        ("http://exa..mple.com/", INVALID_HOST),
        ("http://./", INVALID_HOST),
        ("http://example.com../", INVALID_HOST),
        ("http://exa$mple.com/", INVALID_HOST),
        ("http://exa[mple.com/", INVALID_HOST),
        ("http://[127.0.0.1]/", INVALID_HOST),
        ("http://[::1/", INVALID_HOST),
        ("http://[::1]x/", INVALID_HOST),
        ("http://[v1.fe80::1]/", INVALID_HOST),
        ("http://::1/", "invalid port"),
        ("http://example／com/", INVALID_HOST),
        ("http://" + "a" * 64 + ".com/", INVALID_HOST),
        ("http://" + "a." * 127 + "com/", INVALID_HOST),
    ],
)
def test_it_refuses_unsafe_urls_with_a_sentence(url: str, message: str) -> None:
    text = refusal(url)
    assert message in text
    assert text.endswith(".")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://93.184.216.34/x.jpg",
        "https://[2606:4700::1111]/",
        "http://[::1]/",
        "http://１２７。０。０。１/",
        "http://[fe80::1%25eth0]/",
        "http://256.0.0.1/",
    ],
)
def test_it_never_looks_up_literal_addresses(url: str) -> None:
    # The autouse fixture makes socket.getaddrinfo fail the test (AssertionError) if called.
    with contextlib.suppress(UnsafeURL):
        check_public_url(url)
    with contextlib.suppress(UnsafeURL):
        check_public_url(url, resolve=no_dns)


def test_it_refuses_a_host_name_that_resolves_to_a_private_address() -> None:
    assert "private network address" in refusal("https://rebind.example.net/a.png")


def test_it_refuses_a_host_name_when_any_of_its_addresses_is_private() -> None:
    assert "private network address" in refusal("https://mixed.example.net/a.png")


@pytest.mark.parametrize(
    "host", ["mapped.example.net", "metadata.example.net", "scoped.example.net"]
)
def test_it_refuses_host_names_resolving_to_other_non_public_addresses(host: str) -> None:
    assert "private network address" in refusal(f"https://{host}/a.png")


def test_it_refuses_a_host_name_that_does_not_resolve() -> None:
    assert refusal("https://nowhere.example.invalid/a.png") == (
        "We could not find the host nowhere.example.invalid; check the link."
    )


def test_it_refuses_a_host_name_when_the_resolver_fails() -> None:
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert "We could not find the host example.com" in refusal("https://example.com/", failing)


def test_it_asks_the_resolver_with_the_port_the_fetcher_will_use() -> None:
    calls = []

    def recording(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return ["93.184.216.34"]

    check_public_url("https://Example.COM./a.png", resolve=recording)
    check_public_url("http://example.com/a.png", resolve=recording)
    check_public_url("http://example.com:8080/a.png", resolve=recording)
    assert calls == [("example.com", 443), ("example.com", 80), ("example.com", 8080)]


def test_it_resolves_with_getaddrinfo_in_every_address_family_by_default(monkeypatch) -> None:
    calls = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        calls.append((host, port, family))
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800:220:1::1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert check_public_url("https://example.com/a.png") == "https://example.com/a.png"
    assert calls == [("example.com", 443, 0)]
    assert urlsafety._resolve("example.com", 80) == ["93.184.216.34", "2606:2800:220:1::1"]


def test_it_refuses_when_the_default_resolver_finds_a_private_address(monkeypatch) -> None:
    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert "private network address" in refusal("https://example.com/", resolve=None)


def test_it_refuses_when_the_default_resolver_cannot_find_the_host(monkeypatch) -> None:
    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert refusal("https://example.com/", resolve=None) == (
        "We could not find the host example.com; check the link."
    )


def test_it_raises_a_value_error_carrying_the_message() -> None:
    with pytest.raises(ValueError, match="private network address") as excinfo:
        check_public_url("http://10.0.0.1/")
    assert isinstance(excinfo.value, UnsafeURL)
    assert excinfo.value.message == str(excinfo.value)


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:93.184.216.34", True),
        ("64:ff9b::5db8:d822", True),
        ("2002:5db8:d822::1", True),
        ("10.0.0.5", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("255.255.255.255", False),
        ("198.18.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("ff05::2", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::7f00:1", False),
        ("64:ff9b::7f00:1", False),
        ("2002:7f00:1::", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
        ("2001:db8::1", False),
        ("3fff::1", False),
        ("127.1", False),
        ("2130706433", False),
        ("localhost", False),
        ("", False),
        ("not an ip", False),
    ],
)
def test_it_tells_public_ips_from_the_rest(ip: str, public: bool) -> None:
    assert is_public_ip(ip) is public


def test_it_accepts_a_url_of_exactly_the_maximum_length() -> None:
    url = "https://example.com/" + "a" * (urlsafety.MAX_LENGTH - 20)
    assert len(url) == urlsafety.MAX_LENGTH
    assert check_public_url(url, resolve=fake_resolve) == url
    assert "too long" in refusal(url + "a")
