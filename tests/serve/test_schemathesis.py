"""Property-based fuzzing of every route from the OpenAPI document: no input may cause a 5xx.

Both valid (positive) and invalid (negative) inputs are generated per
operation; write routes get the API key so their bodies are exercised too.
(schemathesis' own pytest loader does not run under pytest 9, so hypothesis
drives each operation's strategy directly.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.serve.conftest import API_KEY

EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def api_schema(settings: Any) -> Any:
    from fusionrec.serve.app import create_app

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))


def operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


def fuzz(operation: Any, mode: GenerationMode) -> bool:
    """Run one operation's generated cases; False when no case of this mode exists."""
    headers = {"X-API-Key": API_KEY} if operation.method.upper() in ("POST", "PUT", "DELETE") else None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])
        content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis: {name: [values]}
        if response.status_code >= 400 and content_type.startswith("application/json"):
            assert "error" in response.json(), response.text

    try:
        check()
    except Unsatisfiable:  # e.g. no invalid input exists for a route without parameters
        return False
    return True


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_causes_a_server_error(api_schema: Any, mode: GenerationMode) -> None:
    tested = [operation.label for operation in operations(api_schema) if fuzz(operation, mode)]
    assert len(tested) >= (12 if mode == GenerationMode.POSITIVE else 8), tested
