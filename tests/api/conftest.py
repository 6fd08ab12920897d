"""Fixtures for the OpenAI-compatible API: the server on a free loopback port (uvicorn in a thread),
a tiny storyteller-format model in a temp models folder, and real `openai` SDK clients whose every
JSON response is checked against OpenAI's own spec (../shared/openai-spec, skipped when absent).

The spec check: 2xx bodies with openapi-core against the operation's response schema; error bodies
against the spec's ErrorResponse schema (the spec lists no error responses per operation).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT.parent / "shared" / "openai-spec" / "openapi.transformed.yml"
SPEC_HOST = "https://api.openai.com"  # the spec's server is https://api.openai.com/v1; our paths carry /v1 too
KEY = "sk-test-key"


def nullable_aware(cls):
    """The spec says openapi 3.1.0 but still marks some fields (stream chunks' finish_reason and
    logprobs) with 3.0's `nullable: true`, which a 3.1 validator ignores; honour it."""
    from jsonschema import validators

    def allow_null(check):
        def run(validator, value, instance, schema):
            if instance is None and schema.get("nullable") is True:
                return
            yield from check(validator, value, instance, schema)
        return run

    return validators.extend(cls, {k: allow_null(cls.VALIDATORS[k]) for k in ("type", "enum")})


NUMERIC = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def boolean_exclusive_bounds(node):
    """The spec also keeps 3.0's boolean `exclusiveMinimum: true` beside `minimum` (DPO's beta: > 0);
    a 3.1 validator reads `true` as the number 1. Rewrite them the 3.1 way (the bound itself). Bounds
    written as `-9.223372036854776e18` (chat's seed) are strings to YAML 1.1, whose floats need a sign
    in the exponent: read them as the numbers they are (schemathesis refuses a string bound)."""
    if isinstance(node, dict):
        for key in NUMERIC:
            if isinstance(node.get(key), str):
                try:
                    number = float(node[key])
                except ValueError:
                    continue
                node[key] = int(number) if number.is_integer() else number
        for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if node.get(bound) is True and limit in node:
                node[bound] = node.pop(limit)
            elif node.get(bound) is False:
                node.pop(bound)
        for value in node.values():
            boolean_exclusive_bounds(value)
    elif isinstance(node, list):
        for value in node:
            boolean_exclusive_bounds(value)
    return node


class SpecChecker:
    """Validates responses against the OpenAI spec; `.checked` counts what it validated."""

    def __init__(self, path: Path):
        import yaml
        from openapi_core import Config, OpenAPI
        from openapi_schema_validator import OAS31Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(path, encoding="utf-8") as f:
            self.spec = boolean_exclusive_bounds(yaml.load(f, Loader=loader))
        # The spec file fails its own meta-schema check (duplicate `required` entries in one schema), so
        # openapi-core's spec self-check is off; responses are still validated against its schemas.
        self.api = OpenAPI.from_dict(self.spec, config=Config(spec_validator_cls=None))
        registry = Registry().with_resource("urn:openai", Resource.from_contents(
            self.spec, default_specification=DRAFT202012))
        validator = nullable_aware(OAS31Validator)
        self._validator = lambda name: validator({"$ref": f"urn:openai#/components/schemas/{name}"}, registry=registry)
        self._cache: dict = {}
        self.checked = 0

    def schema(self, name: str):
        if name not in self._cache:
            self._cache[name] = self._validator(name)
        return self._cache[name]

    def check_error(self, body: dict) -> None:
        self.schema("ErrorResponse").validate(body)
        self.checked += 1

    def check(self, method: str, path: str, status: int, body: bytes, query: dict | None = None) -> None:
        import json

        from openapi_core.testing import MockRequest, MockResponse

        if status >= 400:
            self.check_error(json.loads(body))
            return
        request = MockRequest(SPEC_HOST, method, path, args=query or {})
        self.api.validate_response(request, MockResponse(body, status_code=status, content_type="application/json"))
        self.checked += 1

    @staticmethod
    def is_json(response: httpx.Response) -> bool:
        """SSE streams are checked chunk by chunk and file content is raw bytes: JSON bodies only."""
        return response.headers.get("content-type", "").startswith("application/json")

    def check_response(self, response: httpx.Response) -> None:
        if not self.is_json(response):
            return
        response.read()
        req = response.request
        self.check(req.method, req.url.path, response.status_code, response.content, dict(req.url.params))


@pytest.fixture(scope="session")
def spec() -> SpecChecker:
    if not SPEC_PATH.is_file():
        pytest.skip(f"the OpenAI spec is not at ../shared/openai-spec ({SPEC_PATH.name} missing)")
    return SpecChecker(SPEC_PATH)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The API app (`create_app`) served by uvicorn on loopback in a thread."""

    def __init__(self, host: str = "127.0.0.1"):
        import uvicorn

        from storyteller.api.app import create_app

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(host), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="api-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "Server":
        self.thread.start()
        t0 = time.monotonic()
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() - t0 < 30, "the API server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def api_env(settings_env, monkeypatch):
    """Temp data/runs/database, a models folder with a tiny storyteller-format model called 'tiny',
    and fine-tunes that mix in no earlier stories (so a test trains on its own few examples)."""
    from storyteller.config import get_settings
    from storyteller.engines.local_hf import CACHE
    from storyteller.engines.registry import clear_engines

    models = settings_env / "models"
    build_tiny_model(models / "tiny", storyteller=True)
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models))
    monkeypatch.setenv("STORYTELLER_LOCAL__DEFAULT_MODEL", "tiny")
    monkeypatch.setenv("STORYTELLER_TRAINING__MIX_SHARE", "0")
    get_settings.cache_clear()
    clear_engines()
    yield settings_env
    clear_engines()
    CACHE.clear()


@pytest.fixture
def server(api_env) -> Iterator[Server]:
    with Server() as s:
        yield s


def checked_client(server: Server, spec: SpecChecker, key: str = KEY, **kw) -> openai.OpenAI:
    http = httpx.Client(event_hooks={"response": [spec.check_response]}, timeout=120)
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0, http_client=http, **kw)


@pytest.fixture
def client(server, spec) -> Iterator[openai.OpenAI]:
    with checked_client(server, spec) as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def aclient(server, spec):
    async def hook(r: httpx.Response) -> None:
        if spec.is_json(r):
            await r.aread()
            spec.check_response(r)

    http = httpx.AsyncClient(event_hooks={"response": [hook]}, timeout=120)
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=0, http_client=http) as c:
        yield c


@pytest.fixture
def raw(server) -> Iterator[httpx.Client]:
    """Plain HTTP, for what the SDK never sends (wrong content types, broken bodies)."""
    with httpx.Client(base_url=server.base_url, timeout=120) as c:
        yield c


@pytest.fixture
def stories(tmp_path) -> Path:
    """Twelve of the team's corpus stories for a fine-tune, each one the child-safety check passes
    (what that check flags is its own tests' subject, not this room's)."""
    from storyteller.paths import CORPUS_DIR

    try:
        from storyteller.safety import check_text
    except ImportError:
        check_text = None
    import json

    lines = (CORPUS_DIR / "zh_b.jsonl").read_text(encoding="utf-8").splitlines()
    keep = [line for line in lines if check_text is None or check_text(json.loads(line)["story"], "zh") is None]
    path = tmp_path / "stories.jsonl"
    path.write_text("\n".join(keep[:12]) + "\n", encoding="utf-8")
    return path
