"""Input that JSON parsers accept but no model should see: text that is not valid Unicode
(a lone surrogate, `"\\ud800"`) and numbers that are not finite (NaN, Infinity, 1e309).
Over HTTP each is a 4xx whose `detail` names the field (api/request_model.py refuses,
api/errors.py answers), over MCP a tool error naming the argument (or, for a message the
SDK's JSON parser refuses whole, a 4xx): never a 500. The command line: test_cli_text.py.

The listed cases come first; then hypothesis generates the class: bodies drawn from the
app's own OpenAPI document, with one string leaf (or key) made text with a lone surrogate
or one number leaf made NaN, ±Infinity or 1e309."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from starlette.testclient import TestClient

from semsearch.api.app import create_app
from semsearch.indexer.encoders import Encoder, EncoderSpec
from semsearch.settings import DEFAULT_MODEL, Settings

# Valid JSON, not valid Unicode: a lone surrogate at position 1.
BAD_JSON_TEXT = '"a\\ud800b"'
NUMBER_TOKENS = ("NaN", "Infinity", "-Infinity", "1e309", "-1e309")


def _no_constants(token: str) -> Any:
    raise AssertionError(f"the answer holds {token}, which is not JSON")


def _refused(response: Any, field: str) -> list[dict[str, Any]]:
    """The answer's pydantic errors, once it is checked to be a 4xx in strict JSON (no
    NaN, valid UTF-8) with an error whose location names `field`."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    body = json.loads(response.content.decode("utf-8"), parse_constant=_no_constants)
    errors = body["detail"]
    assert isinstance(errors, list), body
    assert any(field in error["loc"] for error in errors), (field, errors)
    return errors


@pytest.fixture(scope="module")
def client(search_index: tuple[Path, Path], encoder: Encoder) -> Iterator[TestClient]:
    """The real app over the search tests' index, with the session's model. Server errors
    come back as 500s (not raised), as a client would see them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EncoderSpec, "load", lambda spec: encoder)
        app = create_app(Settings(index_dir=search_index[1]))
        # The MCP endpoint answers only a loopback Host on a server bound to loopback.
        with TestClient(app, base_url="http://127.0.0.1:8000",
                        raise_server_exceptions=False) as test_client:
            yield test_client


def _post(client: TestClient, path: str, body: str) -> Any:
    return client.post(path, content=body.encode("utf-8"),
                       headers={"content-type": "application/json"})


# --- HTTP: the listed cases -------------------------------------------------------------
S = BAD_JSON_TEXT
TEXT_CASES = [
    ("/search", f'{{"query": {S}}}', "query"),
    ("/search/batch", f'{{"queries": ["bread", {S}]}}', "queries"),
    ("/context", f'{{"question": {S}}}', "question"),
    ("/embed", f'{{"texts": [{S}]}}', "texts"),
    ("/similarity", f'{{"a": {S}, "b": "bread"}}', "a"),
    ("/similarity", f'{{"pairs": [["bread", {S}]]}}', "pairs"),
    ("/similarity", f'{{"queries": ["bread"], "documents": [{S}]}}', "documents"),
    ("/classify", f'{{"texts": [{S}], "labels": ["food", "sport"]}}', "texts"),
    ("/classify", f'{{"texts": ["bread"], "labels": [{S}, "sport"]}}', "labels"),
    ("/classify", f'{{"texts": ["bread"], "labels": {{{S}: "d", "sport": "e"}}}}', "labels"),
    ("/classify", f'{{"texts": ["bread"], "examples": [{{"text": {S}, "label": "a"}}, '
                  '{"text": "b", "label": "b"}]}', "examples"),
    ("/v1/embeddings", f'{{"input": {S}, "model": "{DEFAULT_MODEL}"}}', "input"),
    ("/v1/embeddings", f'{{"input": ["bread", {S}], "model": "{DEFAULT_MODEL}"}}', "input"),
    ("/v1/embeddings", f'{{"input": "bread", "model": {S}}}', "model"),
    ("/v1/embeddings", f'{{"input": "bread", "model": "{DEFAULT_MODEL}", "user": {S}}}',
     "user"),
    ("/search", f'{{"query": "bread", "mode": {S}}}', "mode"),
    ("/search", f'{{"query": "bread", "filters": {{"path_prefix": {S}}}}}', "filters"),
    ("/search", f'{{"query": "bread", "filters": {{"path_glob": {S}}}}}', "filters"),
    ("/search", f'{{"query": "bread", "filters": {{"file_types": [{S}]}}}}', "filters"),
    ("/index", f'{{"path": {S}}}', "path"),
]


@pytest.mark.parametrize(("path", "body", "field"), TEXT_CASES)
def test_text_that_is_not_unicode_is_a_422_naming_the_field(
    client: TestClient, path: str, body: str, field: str
) -> None:
    errors = _refused(_post(client, path, body), field)
    assert any("not valid Unicode text (a lone surrogate at position 1)" in error["msg"]
               for error in errors), errors


def test_a_key_that_is_not_unicode_is_a_422_that_echoes_it_escaped(
    client: TestClient
) -> None:
    errors = _refused(_post(client, "/search", f'{{"query": "bread", {S}: 1}}'), "body")
    assert errors[0]["input"] == "a\\ud800b"
    errors = _refused(_post(client, "/search",
                            f'{{"query": "bread", "filters": {{{S}: 1}}}}'), "filters")
    assert errors[0]["input"] == {"a\\ud800b": 1}
    assert errors[0]["msg"].startswith("filters (a key): not valid Unicode text")


NUMBER_CASES = [
    ("/search", '{"query": "bread", "k": @}', "k"),
    ("/search", '{"query": "bread", "min_score": @}', "min_score"),
    ("/search", '{"query": "bread", "filters": {"modified_after": @}}', "modified_after"),
    ("/search/batch", '{"queries": ["bread"], "min_score": @}', "min_score"),
    ("/context", '{"question": "bread", "min_score": @}', "min_score"),
    ("/context", '{"question": "bread", "token_budget": @}', "token_budget"),
    ("/classify", '{"texts": ["bread"], "labels": ["a", "b"], "temperature": @}',
     "temperature"),
    ("/v1/embeddings", f'{{"input": "bread", "model": "{DEFAULT_MODEL}", "dimensions": @}}',
     "dimensions"),
]


@pytest.mark.parametrize("token", NUMBER_TOKENS)
@pytest.mark.parametrize(("path", "body", "field"), NUMBER_CASES)
def test_numbers_that_are_not_finite_are_a_422_naming_the_field(
    client: TestClient, path: str, body: str, field: str, token: str
) -> None:
    _refused(_post(client, path, body.replace("@", token)), field)


def test_invalid_utf8_bytes_in_a_body_are_a_4xx(client: TestClient) -> None:
    # Python's json decodes UTF-8 bytes with surrogatepass: an encoded surrogate comes
    # through as a lone surrogate, and is refused as one.
    _refused(client.post("/search", content=b'{"query": "\xed\xa0\x80"}',
                         headers={"content-type": "application/json"}), "query")
    response = client.post("/search", content=b'{"query": "\xff"}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("doc_id", ["1e309", "NaN", "Infinity", "-1", "0",
                                    "99999999999999999999999", "%ED%A0%80", "%FF"])
def test_document_ids_that_are_no_id_are_a_422(client: TestClient, doc_id: str) -> None:
    _refused(client.get(f"/documents/{doc_id}"), "doc_id")


def test_an_authorization_header_that_is_not_ascii_is_a_401(
    search_index: tuple[Path, Path], encoder: Encoder
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EncoderSpec, "load", lambda spec: encoder)
        app = create_app(Settings(index_dir=search_index[1], api_key="the-key"))
        with TestClient(app, raise_server_exceptions=False) as keyed:
            for value in (b"Bearer \xff\xfe", b"\xed\xa0\x80", b"Bearer the-key\xff",
                          "Bearer ключ".encode()):
                response = keyed.get("/stats", headers=[(b"authorization", value)])
                assert response.status_code == 401, (value, response.text)


# --- MCP --------------------------------------------------------------------------------
MCP_HEADERS = {"Accept": "application/json, text/event-stream",
               "Content-Type": "application/json"}


def _call_tool(client: TestClient, name: str, arguments: str) -> Any:
    body = ('{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": '
            f'{{"name": "{name}", "arguments": {arguments}}}}}')
    return client.post("/mcp", content=body.encode("utf-8"), headers=MCP_HEADERS)


@pytest.mark.parametrize(("tool", "arguments", "field"), [
    ("context", '{"question": "bread", "min_score": NaN}', "min_score"),
    ("context", '{"question": "bread", "min_score": Infinity}', "min_score"),
    ("context", '{"question": "bread", "k": 1e309}', "k"),
    ("search", '{"query": "bread", "k": -1e309}', "k"),
    ("get_document", '{"doc_id": 1e309}', "doc_id"),
    ("get_document", '{"doc_id": 99999999999999999999999999}', "doc_id"),
    ("get_document", '{"doc_id": 1, "max_chars": NaN}', "max_chars"),
])
def test_mcp_numbers_that_are_not_finite_are_tool_errors_naming_the_field(
    client: TestClient, tool: str, arguments: str, field: str
) -> None:
    response = _call_tool(client, tool, arguments)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] and field in result["content"][0]["text"], result


@pytest.mark.parametrize(("tool", "arguments"), [
    ("search", f'{{"query": {S}}}'),
    ("context", f'{{"question": {S}}}'),
    ("search", f'{{"query": "bread", "filters": {{"path_prefix": {S}}}}}'),
])
def test_mcp_messages_with_a_lone_surrogate_are_a_4xx(
    client: TestClient, tool: str, arguments: str
) -> None:
    """The MCP SDK's JSON parser refuses the whole message (JSON-RPC parse error)."""
    response = _call_tool(client, tool, arguments)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] == -32700


@pytest.mark.parametrize(("tool", "arguments", "field"), [
    ("search", {"query": "a\ud800b"}, "query"),
    ("context", {"question": "a\ud800b"}, "question"),
    ("search", {"query": "bread", "filters": {"path_prefix": "\udcff"}}, "path_prefix"),
])
def test_mcp_tools_refuse_invalid_arguments_as_tool_errors(
    search_searcher: Any, tool: str, arguments: dict[str, Any], field: str
) -> None:
    """Called in process, where no JSON parser stands before the tool's own argument
    checks (the client writes NaN as null, so numbers are checked over HTTP above)."""
    import anyio
    from mcp import Client

    from semsearch.api.mcp_server import build_mcp_server

    async def call() -> Any:
        async with Client(build_mcp_server(lambda: search_searcher)) as mcp_client:
            return await mcp_client.call_tool(tool, arguments)

    result = anyio.run(call)
    assert result.is_error, result
    message = result.content[0].text
    assert field in message and "not valid Unicode text" in message, message


# --- HTTP: the class, generated from the app's OpenAPI document --------------------------
ROUTE_EXAMPLES = 30
NOT_FINITE = st.sampled_from(NUMBER_TOKENS)
# Text with a lone surrogate somewhere: any of U+D800..U+DFFF, between valid text.
NOT_UNICODE = st.tuples(st.text(max_size=4), st.characters(categories=["Cs"]),
                        st.text(max_size=4)).map("".join)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, kind) of each string and number of a JSON value; a dict key is a string
    leaf too, its path ending in ("key", name)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, str):
        yield path, "string"
    elif isinstance(value, int | float):
        yield path, "number"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, ("key", key)), "string"
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))


def _replace(body: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of `body` with the leaf at `path` (or the dict key) replaced by `new`."""
    head, rest = path[0], path[1:]
    if isinstance(head, tuple):  # ("key", name): rename the key, keep the order
        return {new if key == head[1] else key: item for key, item in body.items()}
    copy = dict(body) if isinstance(body, dict) else list(body)
    copy[head] = new if not rest else _replace(body[head], rest, new)
    return copy


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _declared_fields(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, bool]:
    """{top-level property: whether it may be a number} of a body schema, through $refs
    and unions."""
    schema = _resolved(document, schema)
    fields = {name: any(_resolved(document, kind).get("type") in ("integer", "number")
                        for kind in [field, *field.get("anyOf", [])])
              for name, field in schema.get("properties", {}).items()}
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        fields |= _declared_fields(document, branch)
    return fields


def _body_operations() -> list[tuple[str, Any, dict[str, bool]]]:
    """(path, schemathesis operation, declared fields) of every operation in the app's
    OpenAPI document that takes a JSON body."""
    document = create_app(Settings(index_dir=Path("unused"))).openapi()
    schema = schemathesis.openapi.from_dict(document)
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        body = document["paths"][operation.path][operation.method].get("requestBody", {})
        if "application/json" in body.get("content", {}):
            declared = _declared_fields(document, body["content"]["application/json"]["schema"])
            operations.append((operation.path, operation, declared))
    return operations


BODY_OPERATIONS = _body_operations()


def test_the_generated_cases_cover_every_body_route() -> None:
    paths = {path for path, _, _ in BODY_OPERATIONS}
    assert {"/search", "/search/batch", "/context", "/index", "/embed", "/similarity",
            "/classify", "/v1/embeddings"} <= paths


@pytest.mark.parametrize(("path", "operation", "declared"), BODY_OPERATIONS,
                         ids=[path for path, _, _ in BODY_OPERATIONS])
def test_generated_invalid_text_and_numbers_are_4xx_naming_the_field(
    client: TestClient, path: str, operation: Any, declared: dict[str, bool]
) -> None:
    """Bodies drawn from the route's schema, then one string leaf (or key) made text with
    a lone surrogate, or one number leaf made NaN, ±Infinity or 1e309 (raw JSON tokens):
    each answer is a 4xx in strict JSON whose `detail` names the top-level field.
    A top-level key is a field's name, not text: renaming one is another test's matter."""

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
           data=st.data())
    @settings(max_examples=ROUTE_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
        assume(isinstance(case.body, dict))
        # Fields a model ignores (unknown to it) are not what is tested here.
        leaves = [(leaf, kind) for leaf, kind in _leaves(case.body)
                  if not isinstance(leaf[0], tuple) and leaf[0] in declared]
        # A number field the body left out is a leaf too: NaN is sent in its place.
        leaves += [((name,), "number") for name, numeric in declared.items()
                   if numeric and name not in case.body]
        assume(leaves)
        # The kind first: a body holds many more strings than numbers.
        kind = data.draw(st.sampled_from(sorted({kind for _, kind in leaves})))
        leaf = data.draw(st.sampled_from([leaf for leaf, of in leaves if of == kind]))
        marker = "\x00leaf\x00"
        body = json.dumps(_replace(case.body, leaf, marker), ensure_ascii=False)
        new = json.dumps(data.draw(NOT_UNICODE)) if kind == "string" else data.draw(NOT_FINITE)
        raw = body.replace(json.dumps(marker, ensure_ascii=False), new)
        _refused(client.post(path, content=raw.encode("utf-8"),
                             headers={"content-type": "application/json"}), leaf[0])

    fuzz()
