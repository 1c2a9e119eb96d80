"""Which maker makes a model's files and which dialect it answers in are data in the server:
every model the catalog lists must find both there."""

from __future__ import annotations

import pytest

from generations import catalog
from generations.sandbox import media, server

TASK_MODELS = [spec for spec in catalog.MODELS.values() if spec.async_task]


@pytest.mark.parametrize("spec", TASK_MODELS, ids=lambda spec: spec.slug)
def test_every_task_model_has_a_maker_and_a_dialect(spec: catalog.ModelSpec) -> None:
    maker = server.maker_for(spec)
    if spec.kind == "tool":
        assert maker is server.MAKERS_BY_ROUTE[spec.route]
    else:
        assert maker not in server.MAKERS_BY_ROUTE.values()
    assert server.dialect_for(spec) in server.DIALECTS


def test_each_tool_route_is_a_catalog_route() -> None:
    routes = {spec.route for spec in catalog.MODELS.values()}
    assert set(server.MAKERS_BY_ROUTE) <= routes
    assert set(server.DIALECT_BY_ROUTE) <= routes
    assert set(server.DIALECT_BY_SLUG) <= set(catalog.MODELS)


def test_the_media_package_keeps_its_public_names() -> None:
    for name in media.__all__:
        assert callable(getattr(media, name)) or name.isupper()
