"""Which upstream a workspace talks to, and what the studio may expect of it.

`client.py` speaks HTTP and knows nothing of Django; this module chooses for it: the account a
workspace calls with (its own key, the studio's APIINONE_API_KEY, or the sandbox), the private
hosts results may be fetched from, and whether the upstream can reach the studio (callbacks,
and the links by which uploads are handed over).
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from django.conf import settings

from generations import client, ratelimit, urlsafety


def api_key(workspace=None) -> str:
    return (workspace.api_key if workspace is not None else "") or settings.APIINONE_API_KEY


def uses_sandbox(workspace=None) -> bool:
    """Whether the workspace (or, without one, the studio) talks to the sandbox."""
    return workspace.uses_sandbox if workspace is not None else not settings.APIINONE_API_KEY


def studio_account(member: str | None = None, workspace=None) -> client.Account:
    """The account a workspace calls with: its own key, else the studio's APIINONE_API_KEY, else
    the sandbox (and its key). Every call is paced by the shared limiter, per key."""
    key = api_key(workspace)
    return client.Account(
        base_url=settings.APIINONE_BASE_URL if key else settings.SANDBOX_URL,
        api_key=key or settings.SANDBOX_API_KEY,
        member=member,
        limiter=ratelimit.acquire,
    )


def result_hosts(workspace=None) -> list[str]:
    """The private hosts a workspace's result files may come from (any public host may): the
    sandbox's (under both its names) for a workspace on the sandbox; else the API's own host and
    any configured in-house hosts (APIINONE_RESULT_HOSTS). Never the sandbox's loopback for a
    job of the real service: its result links must not reach into this machine."""
    if uses_sandbox(workspace):
        hosts = [urlsplit(settings.SANDBOX_URL).hostname, settings.SANDBOX["files_host"]]
    else:
        hosts = [urlsplit(settings.APIINONE_BASE_URL).hostname]
    return [*(h.lower() for h in hosts if h), *(h.lower() for h in settings.APIINONE_RESULT_HOSTS)]


def studio_is_public() -> bool:
    """Whether STUDIO_PUBLIC_URL is an address the internet can reach (a public host). A
    studio on 127.0.0.1, a LAN address or an internal name is not: the real service can
    neither call it back nor fetch uploads from it."""
    return bool(settings.STUDIO_PUBLIC_URL) and _is_public_url(settings.STUDIO_PUBLIC_URL)


@functools.lru_cache(maxsize=8)
def _is_public_url(url: str) -> bool:
    try:
        urlsafety.check_public_url(url)
    except urlsafety.UnsafeURL:
        return False
    return True


def reaches_studio(workspace=None) -> bool:
    """Whether the workspace's upstream can open links to this studio: the sandbox runs beside
    it and always can (when STUDIO_PUBLIC_URL is set); the real service only when the studio
    has a public address, or STUDIO_REACHABLE says the network lets it through anyway."""
    if not settings.STUDIO_PUBLIC_URL:
        return False
    if uses_sandbox(workspace) or settings.STUDIO_REACHABLE == "yes":
        return True
    return settings.STUDIO_REACHABLE != "no" and studio_is_public()


def offers_callback(spec, workspace=None) -> bool:
    """A callback URL is sent only to a model that takes one, and only where it can arrive."""
    return spec.callback and reaches_studio(workspace)
