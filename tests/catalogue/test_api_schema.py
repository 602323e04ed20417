"""The JSON API against its own OpenAPI schema: schemathesis generates requests for every
operation the schema documents (valid and invalid parameters) and checks that none gets a 5xx
and that each response has the status, content type and body shape the schema promises.

tests/core/test_routes_junk.py checks that every /api/ route is in the schema, so this run
covers each one.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from app.asgi import create_app

schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app())


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
