"""The one fetcher for every URL the studio's server downloads (`client.download`): any public
host, each hop checked, connected to the address that was checked.

A resolver the test controls answers the host names (public and private answers, rebinding);
an httpx MockTransport stands for the network and records where each connection went."""

from __future__ import annotations

import httpx
import pytest

from generations import client
from generations.client import UpstreamError

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PUBLIC = "93.184.216.34"
OTHER_PUBLIC = "151.101.1.69"


class Network:
    """Names → addresses (a list per call, for rebinding) and what each address serves."""

    def __init__(self, names: dict[str, list[list[str]]], answers=None) -> None:
        self.names = {name: list(calls) for name, calls in names.items()}
        self.lookups: list[str] = []
        self.requests: list[httpx.Request] = []
        self.answers = answers or (lambda request: httpx.Response(200, content=PNG))

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        calls = self.names[host]
        return calls.pop(0) if len(calls) > 1 else calls[0]

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.answers(request)

        return httpx.MockTransport(handler)

    def get(self, url: str, **kwargs) -> client.Download:
        kwargs.setdefault("max_bytes", 1_000_000)
        return client.download(url, resolve=self.resolve, transport=self.transport(), **kwargs)


def test_a_result_on_a_public_cdn_host_is_kept() -> None:
    # The manual's own example: results live on a CDN, not on the API's host.
    net = Network({"cdn.example.com": [[PUBLIC]]})
    got = net.get("https://cdn.example.com/generated-image.png")
    assert got.content == PNG
    (request,) = net.requests
    assert request.url.host == PUBLIC  # connected to the checked address …
    assert request.headers["Host"] == "cdn.example.com"  # … naming the host
    assert request.extensions["sni_hostname"] == "cdn.example.com"  # TLS checks the name
    assert request.url.path == "/generated-image.png"


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["169.254.169.254"],
        ["100.64.0.1"],
        ["::1"],
        ["fd00::1"],
        [PUBLIC, "192.168.1.1"],
    ],
)
def test_a_name_that_resolves_to_a_private_address_is_refused(addresses) -> None:
    net = Network({"cdn.example.com": [addresses]})
    with pytest.raises(UpstreamError, match="private network"):
        net.get("https://cdn.example.com/a.png")
    assert net.requests == []  # nothing was fetched


def test_the_name_is_resolved_once_so_rebinding_cannot_swap_the_address() -> None:
    # First answer public, every later answer loopback: the fetch must use the first.
    net = Network({"rebind.example.com": [[PUBLIC], ["127.0.0.1"]]})
    net.get("http://rebind.example.com/a.png")
    assert net.lookups == ["rebind.example.com"]
    assert [r.url.host for r in net.requests] == [PUBLIC]


def test_each_redirect_is_checked_again() -> None:
    def answers(request):
        if request.headers["Host"] == "cdn.example.com":
            return httpx.Response(302, headers={"Location": "https://files.example.net/b.png"})
        return httpx.Response(200, content=PNG)

    net = Network({"cdn.example.com": [[PUBLIC]], "files.example.net": [[OTHER_PUBLIC]]}, answers)
    assert net.get("https://cdn.example.com/a.png").content == PNG
    assert [r.url.host for r in net.requests] == [PUBLIC, OTHER_PUBLIC]
    assert net.requests[1].headers["Host"] == "files.example.net"


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://inner.example.com/",
        "http://localhost:8000/admin/",
        "file:///etc/passwd",
        "http://[::1]/",
    ],
)
def test_a_redirect_to_a_private_address_is_refused(location) -> None:
    def answers(request):
        return httpx.Response(302, headers={"Location": location})

    net = Network({"cdn.example.com": [[PUBLIC]], "inner.example.com": [["10.0.0.5"]]}, answers)
    with pytest.raises(UpstreamError, match="Refusing"):
        net.get("https://cdn.example.com/a.png")
    assert [r.url.host for r in net.requests] == [PUBLIC]  # the hop was never fetched


def test_redirects_are_bounded() -> None:
    net = Network(
        {"cdn.example.com": [[PUBLIC]]},
        lambda request: httpx.Response(302, headers={"Location": "/again"}),
    )
    with pytest.raises(UpstreamError, match="too many"):
        net.get("https://cdn.example.com/a.png")
    assert len(net.requests) == client.FETCH_REDIRECTS + 1


def test_only_default_ports_unless_the_host_is_trusted() -> None:
    net = Network({"cdn.example.com": [[PUBLIC]], "cdn.inhouse.lan": [["10.0.0.7"]]})
    with pytest.raises(UpstreamError, match="port 6379"):
        net.get("http://cdn.example.com:6379/a.png")
    # A named in-house host may be private and on any port.
    got = net.get("http://cdn.inhouse.lan:9000/a.png", trusted_hosts=["inhouse.lan"])
    assert got.content == PNG
    assert net.requests[-1].url.host == "10.0.0.7"
    assert net.requests[-1].headers["Host"] == "cdn.inhouse.lan:9000"


def test_private_literals_and_other_schemes_are_refused_without_a_request() -> None:
    net = Network({})
    for url in ("http://127.0.0.1:8001/files/x.png", "ftp://cdn.example.com/x", "http://10.0.0.1/"):
        with pytest.raises(UpstreamError, match="Refusing"):
            net.get(url)
    assert net.requests == []
    assert net.lookups == []


def test_sizes_are_capped_declared_or_not() -> None:
    declared = Network(
        {"cdn.example.com": [[PUBLIC]]},
        lambda request: httpx.Response(200, content=b"x" * 2000),
    )
    with pytest.raises(UpstreamError, match="larger"):
        declared.get("https://cdn.example.com/a.png", max_bytes=1000)

    def undeclared(request):
        return httpx.Response(200, stream=httpx.ByteStream(b"x" * 2000))

    streamed = Network({"cdn.example.com": [[PUBLIC]]}, undeclared)
    with pytest.raises(UpstreamError, match="larger"):
        streamed.get("https://cdn.example.com/a.png", max_bytes=1000)


@pytest.mark.parametrize("status", [403, 404, 410])
def test_an_expired_link_says_so(status) -> None:
    net = Network({"cdn.example.com": [[PUBLIC]]}, lambda request: httpx.Response(status))
    with pytest.raises(UpstreamError) as caught:
        net.get("https://cdn.example.com/a.png")
    assert caught.value.kind == client.NOT_FOUND
    assert caught.value.status == status


def test_the_next_checked_address_is_tried_when_one_does_not_answer() -> None:
    def answers(request):
        if request.url.host == PUBLIC:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, content=PNG)

    net = Network({"cdn.example.com": [[PUBLIC, OTHER_PUBLIC]]}, answers)
    assert net.get("https://cdn.example.com/a.png").content == PNG
    assert [r.url.host for r in net.requests] == [PUBLIC, OTHER_PUBLIC]
