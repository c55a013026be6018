"""Verified behaviour of the development portal (scim2-server 0.8.3 behind tools/portal/portal.py).

Each test pins down one fact that docs/scim-portal.md states and the lasync
applier relies on; when a new scim2-server version changes an answer, a test
here fails and the document must change with it.

The tests start nothing. They read LASYNC_PORTAL_URL and LASYNC_PORTAL_TOKEN
(`eval "$(scripts/stack.sh env --instance test)"`) and fail, never skip, when
the portal is not there. Every test works in a fresh random tenant, so tests
never see each other's resources.

    scripts/stack.sh start --instance test portal
    eval "$(scripts/stack.sh env --instance test)"
    .local/venv/bin/python -m pytest tests/integration/test_stack_portal.py

The throughput test prints rough numbers (run with -s to see them).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

import pytest

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LU = "urn:lasync:scim:school:1.0:User"
LG = "urn:lasync:scim:school:1.0:Group"
PU = "urn:example:portal:1.0:User"
PG = "urn:example:portal:1.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

UNIQUENESS_DETAIL = "One or more of the attribute values are already in use or are reserved"
PRECONDITION_DETAIL = "Failed to update. Resource has changed on the server"


# ---------------------------------------------------------------- client


class Response:
    def __init__(self, status: int, headers: dict[str, str], raw: bytes):
        self.status = status
        self.headers = headers  # lower-case names
        self.raw = raw
        self.body: Any = json.loads(raw) if raw else None

    def __repr__(self) -> str:
        return f"<{self.status} {self.raw[:300]!r}>"


class Portal:
    """A keep-alive SCIM client bound to one tenant of the portal."""

    def __init__(self, base_url: str, token: str, tenant: str):
        parts = urllib.parse.urlsplit(base_url)
        assert parts.scheme == "http", base_url
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.tenant = tenant
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def raw(self, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None, auth: bool = True) -> Response:
        """A request to an absolute path on the portal (no tenant added)."""
        h = {"Accept": "application/scim+json"}
        if auth:
            h["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = "application/scim+json"
        h.update(headers or {})
        for attempt in (1, 2):
            try:
                self.conn.request(method, self.prefix + path, body=data, headers=h)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 2:
                    raise
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)

    def req(self, method: str, path: str, body: Any = None, **kw: Any) -> Response:
        return self.raw(method, f"/{self.tenant}/v2{path}", body, **kw)

    # -- conveniences

    def create_user(self, user_name: str, **attrs: Any) -> dict[str, Any]:
        schemas = [USER] + [k for k in attrs if k.startswith("urn:")]
        r = self.req("POST", "/Users", {"schemas": schemas, "userName": user_name, **attrs})
        assert r.status == 201, r
        return r.body

    def create_group(self, name: str, **attrs: Any) -> dict[str, Any]:
        schemas = [GROUP] + [k for k in attrs if k.startswith("urn:")]
        r = self.req("POST", "/Groups", {"schemas": schemas, "displayName": name, **attrs})
        assert r.status == 201, r
        return r.body

    def patch(self, path: str, *ops: dict[str, Any], **kw: Any) -> Response:
        return self.req("PATCH", path, {"schemas": [PATCH_OP], "Operations": list(ops)}, **kw)

    def get(self, path: str) -> dict[str, Any]:
        r = self.req("GET", path)
        assert r.status == 200, r
        return r.body

    def filter(self, resource: str, expr: str, **params: Any) -> dict[str, Any]:
        query = urllib.parse.urlencode({"filter": expr, **params})
        r = self.req("GET", f"/{resource}?{query}")
        assert r.status == 200, r
        return r.body

    def search(self, resource: str, expr: str, **params: Any) -> dict[str, Any]:
        r = self.req("POST", f"/{resource}/.search", {"schemas": [SEARCH], "filter": expr, **params})
        assert r.status == 200, r
        return r.body

    def stats(self) -> dict[str, int]:
        r = self.raw("GET", f"/_stats?tenant={self.tenant}", auth=False)
        assert r.status == 200, r
        return r.body

    def close(self) -> None:
        self.conn.close()


def new_tenant() -> str:
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def portal_env() -> tuple[str, str]:
    url = os.environ.get("LASYNC_PORTAL_URL")
    token = os.environ.get("LASYNC_PORTAL_TOKEN")
    hint = ('start the stack and load its environment: scripts/stack.sh start --instance test '
            '&& eval "$(scripts/stack.sh env --instance test)"')
    if not url or not token:
        pytest.fail(f"LASYNC_PORTAL_URL and LASYNC_PORTAL_TOKEN are not set; {hint}")
    probe = Portal(url, token, "_probe")
    try:
        r = probe.raw("GET", "/_probe/v2/ServiceProviderConfig", auth=False)
    except OSError as exc:
        pytest.fail(f"the portal at {url} is unreachable ({exc}); {hint}")
    finally:
        probe.close()
    if r.status != 200:
        pytest.fail(f"the portal at {url} answered {r.status} to its ServiceProviderConfig")
    return url, token


@pytest.fixture
def portal(portal_env: tuple[str, str]):
    p = Portal(*portal_env, new_tenant())
    yield p
    p.close()


def item(r: Response | dict[str, Any]) -> dict[str, Any]:
    return r.body if isinstance(r, Response) else r


def assert_error(r: Response, status: int, scim_type: str | None, detail: str | None = None) -> None:
    assert r.status == status, r
    assert r.headers["content-type"] == "application/scim+json"
    assert r.body["schemas"] == [ERROR]
    assert r.body["status"] == str(status)  # a string, as RFC 7644 §3.12 has it
    assert r.body.get("scimType") == scim_type, r
    if detail is not None:
        assert r.body["detail"] == detail, r


# ---------------------------------------------------------------- discovery and auth


def test_service_provider_config(portal: Portal) -> None:
    r = portal.req("GET", "/ServiceProviderConfig", auth=False)  # public, RFC 7643 §5
    assert r.status == 200
    spc = r.body
    assert spc["patch"] == {"supported": True}
    assert spc["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
    assert spc["filter"] == {"supported": True, "maxResults": 1000}
    assert spc["etag"] == {"supported": True}
    assert spc["sort"] == {"supported": True}
    assert [s["type"] for s in spc["authenticationSchemes"]] == ["oauthbearertoken"]


def test_schemas_and_resource_types_are_ours(portal: Portal) -> None:
    ids = {s["id"] for s in portal.get("/Schemas")["Resources"]}
    assert ids == {USER, GROUP, LU, LG, PU, PG}
    rts = {rt["id"]: rt for rt in portal.get("/ResourceTypes")["Resources"]}
    assert rts["User"]["schemaExtensions"] == [
        {"schema": LU, "required": False}, {"schema": PU, "required": False}]
    assert rts["Group"]["schemaExtensions"] == [
        {"schema": LG, "required": False}, {"schema": PG, "required": False}]


def test_bearer_token_required(portal: Portal) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {portal.token}"}):
        r = portal.req("GET", "/Users", auth=False, headers=headers)
        assert_error(r, 401, None,
                     "Authorization failure. The authorization header is invalid or missing")
        assert r.headers["www-authenticate"] == 'Bearer realm="SCIM"'


def test_request_without_tenant_is_404(portal: Portal) -> None:
    r = portal.raw("GET", "/v2/Users")
    assert_error(r, 404, None, "Unknown tenant")


def test_tenants_are_isolated(portal_env: tuple[str, str]) -> None:
    a, b = Portal(*portal_env, new_tenant()), Portal(*portal_env, new_tenant())
    a.create_user("same", externalId="x:1")
    assert b.get("/Users")["totalResults"] == 0
    b.create_user("same")  # userName is unique per tenant only
    a.close()
    b.close()


def test_a_tenant_token_is_that_tenants_only(portal_env: tuple[str, str]) -> None:
    """POST /_tokens: the tenant then accepts its own token and nothing else
    (tests of tenant isolation give every tenant a credential of its own)."""
    a, b = Portal(*portal_env, new_tenant()), Portal(*portal_env, new_tenant())
    own = "tok-" + uuid.uuid4().hex
    r = a.raw("POST", "/_tokens", {"tenant": a.tenant, "token": own}, auth=False)
    assert r.status == 201, r
    try:
        assert_error(a.req("GET", "/Users"), 401, None, "Not this tenant's token")
        assert a.req("GET", "/Users", auth=False,
                     headers={"Authorization": f"Bearer {own}"}).status == 200
        # the other tenant refuses it, and still takes the launcher's token
        assert b.req("GET", "/Users", auth=False,
                     headers={"Authorization": f"Bearer {own}"}).status == 401
        assert b.req("GET", "/Users").status == 200
        assert a.stats()["wrong_token"] == 1
    finally:
        r = a.raw("DELETE", f"/_tokens?tenant={a.tenant}", auth=False)
        assert r.status == 200 and r.body == {"cleared": 1}, r
    assert a.req("GET", "/Users").status == 200
    a.close()
    b.close()


# ---------------------------------------------------------------- a. create, get, filter, paging


def student(user_name: str, external_id: str) -> dict[str, Any]:
    return {
        "schemas": [USER, LU],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": "Jan", "familyName": "Vries"},
        "displayName": "Jan de Vries",
        "active": True,
        LU: {"nameInfix": "de", "kind": "student", "birthDate": "2016-05-04",
             "yearLevel": "3", "preschool": False},
    }


def test_create_user_with_extension_then_get(portal: Portal) -> None:
    r = portal.req("POST", "/Users", student("parnassys-student-1", "parnassys:student:1"))
    assert r.status == 201, r
    user = r.body
    assert user["schemas"] == [USER, LU]
    assert user[LU] == {"nameInfix": "de", "kind": "student", "birthDate": "2016-05-04",
                        "yearLevel": "3", "preschool": False}
    assert user["externalId"] == "parnassys:student:1"
    assert len(user["id"]) == 32  # uuid4 hex
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["location"] == f"{portal.base_url}/{portal.tenant}/v2/Users/{user['id']}"
    assert r.headers["location"] == user["meta"]["location"]
    assert r.headers["etag"] == user["meta"]["version"]
    assert r.headers["content-type"] == "application/scim+json"

    got = portal.req("GET", f"/Users/{user['id']}")
    assert got.status == 200
    assert got.body == user
    assert got.headers["etag"] == user["meta"]["version"]

    missing = portal.req("GET", "/Users/0123456789abcdef0123456789abcdef")
    assert_error(missing, 404, None, "User '0123456789abcdef0123456789abcdef' not found")


def test_create_ignores_client_id_and_meta(portal: Portal) -> None:
    body = {"schemas": [USER], "userName": "a", "id": "mine", "meta": {"version": 'W/"77"'}}
    r = portal.req("POST", "/Users", body)
    assert r.status == 201
    assert r.body["id"] != "mine"
    assert r.body["meta"]["version"] != 'W/"77"'


def test_extension_urn_missing_from_schemas_is_added(portal: Portal) -> None:
    r = portal.req("POST", "/Users", {"schemas": [USER], "userName": "a", LU: {"kind": "staff"}})
    assert r.status == 201, r
    assert r.body["schemas"] == [USER, LU]


def test_filter_external_id_by_get_and_by_search(portal: Portal) -> None:
    user = portal.create_user("a", externalId="esis:guardian:42")
    portal.create_user("b", externalId="esis:guardian:43")
    for found in (portal.filter("Users", 'externalId eq "esis:guardian:42"'),
                  portal.search("Users", 'externalId eq "esis:guardian:42"')):
        assert found["schemas"] == [LIST]
        assert found["totalResults"] == 1
        assert found["startIndex"] == 1
        assert found["itemsPerPage"] == 1
        assert [u["id"] for u in found["Resources"]] == [user["id"]]
    # externalId is caseExact: another case finds nothing.
    assert portal.search("Users", 'externalId eq "ESIS:guardian:42"')["totalResults"] == 0
    # userName is not: any case finds it.
    assert portal.search("Users", 'userName eq "A"')["totalResults"] == 1
    # Nothing found is 200 with an empty list, not 404.
    none = portal.search("Users", 'externalId eq "nope"')
    assert (none["totalResults"], none["itemsPerPage"], none["Resources"]) == (0, 0, [])


def test_filter_on_extension_attributes_and_combinations(portal: Portal) -> None:
    portal.create_user("a", externalId="x:1", **{LU: {"kind": "student", "nameInfix": "van der"}})
    portal.create_user("b", externalId="x:2", **{LU: {"kind": "guardian"}})
    assert portal.search("Users", f'{LU}:kind eq "student"')["totalResults"] == 1
    assert portal.search("Users", f'{LU}:nameInfix eq "Van Der"')["totalResults"] == 0  # caseExact
    assert portal.search("Users", f'externalId eq "x:1" or {LU}:kind eq "guardian"')["totalResults"] == 2
    assert portal.search("Users", f'not (externalId eq "x:1")')["totalResults"] == 1
    assert portal.search("Users", "externalId pr")["totalResults"] == 2
    assert portal.search("Users", 'externalId sw "x:"')["totalResults"] == 2


def test_search_at_root_covers_users_and_groups(portal: Portal) -> None:
    portal.create_user("a", externalId="x:1")
    portal.create_group("g", externalId="x:1")
    r = portal.raw("POST", f"/{portal.tenant}/v2/.search",
                   {"schemas": [SEARCH], "filter": 'externalId eq "x:1"'})
    assert r.status == 200
    assert sorted(x["meta"]["resourceType"] for x in r.body["Resources"]) == ["Group", "User"]


def test_pagination_by_index(portal: Portal) -> None:
    ids = sorted(portal.create_user(f"u{i}")["id"] for i in range(7))
    page1 = portal.filter("Users", "userName pr", count=3, startIndex=1)
    assert (page1["totalResults"], page1["startIndex"], page1["itemsPerPage"]) == (7, 1, 3)
    page3 = portal.filter("Users", "userName pr", count=3, startIndex=7)
    assert (page3["totalResults"], page3["startIndex"], page3["itemsPerPage"]) == (7, 7, 1)
    past = portal.filter("Users", "userName pr", count=3, startIndex=50)
    assert (past["totalResults"], past["itemsPerPage"], past["Resources"]) == (7, 0, [])
    zero = portal.filter("Users", "userName pr", count=0)
    assert (zero["totalResults"], zero["itemsPerPage"]) == (7, 0)
    # Without sortBy the order is by id: pages are stable and complete.
    seen = []
    for start in (1, 4, 7):
        seen += [u["id"] for u in portal.filter("Users", "userName pr", count=3, startIndex=start)["Resources"]]
    assert seen == ids
    # startIndex < 1 is read as 1 (RFC 7644 §3.4.2.4).
    assert portal.filter("Users", "userName pr", count=1, startIndex=0)["startIndex"] == 1
    r = portal.req("GET", "/Users?count=abc")
    assert_error(r, 400, "invalidValue")


def test_count_is_capped_at_1000(portal: Portal) -> None:
    ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}",
            "data": {"schemas": [USER], "userName": f"bulk{i}"}} for i in range(1000)]
    r = portal.req("POST", "/Bulk", {"schemas": [BULK], "Operations": ops})
    assert r.status == 200, r
    assert all(op["status"] == "201" for op in r.body["Operations"])
    portal.create_user("one-more")
    asked = portal.filter("Users", "userName pr", count=5000, attributes="id")
    assert (asked["totalResults"], asked["itemsPerPage"]) == (1001, 1000)
    default = portal.req("GET", "/Users?attributes=id").body  # no count: also 1000
    assert (default["totalResults"], default["itemsPerPage"]) == (1001, 1000)
    last = portal.filter("Users", "userName pr", count=1000, startIndex=1001, attributes="id")
    assert last["itemsPerPage"] == 1


# ---------------------------------------------------------------- b. strictness


def test_unknown_core_attribute_is_400(portal: Portal) -> None:
    r = portal.req("POST", "/Users", {"schemas": [USER], "userName": "a", "foo": "x"})
    assert_error(r, 400, "invalidSyntax", "Extra inputs are not permitted: foo")


def test_unknown_extension_attribute_is_400(portal: Portal) -> None:
    r = portal.req("POST", "/Users", {"schemas": [USER, LU], "userName": "a", LU: {"foo": "x"}})
    assert_error(r, 400, "invalidSyntax", f"Extra inputs are not permitted: {LU}:foo")
    r = portal.req("POST", "/Users", {"schemas": [USER, LU], "userName": "a",
                                      LU: {"guardianOf": [{"value": "x", "foo": 1}]}})
    assert_error(r, 400, "invalidSyntax", f"Extra inputs are not permitted: {LU}:guardianOf[0].foo")


def test_unknown_extension_schema_is_400(portal: Portal) -> None:
    other = "urn:example:other:1.0:User"
    r = portal.req("POST", "/Users", {"schemas": [USER, other], "userName": "a", other: {"a": "b"}})
    assert_error(r, 400, "invalidSyntax", f"Extra inputs are not permitted: {other}")
    # A group extension on a user is just as unknown.
    r = portal.req("POST", "/Users", {"schemas": [USER, LG], "userName": "a", LG: {"kind": "x"}})
    assert_error(r, 400, "invalidSyntax", f"Extra inputs are not permitted: {LG}")


def test_value_types_are_checked_but_booleans_are_lax(portal: Portal) -> None:
    r = portal.req("POST", "/Users", {"schemas": [USER, LU], "userName": "a", LU: {"yearLevel": 4}})
    assert_error(r, 400, "invalidValue", f"Input should be a valid string: {LU}:yearLevel")
    r = portal.req("POST", "/Users", {"schemas": [USER, LU], "userName": "a", LU: {"guardianOf": {"value": "x"}}})
    assert_error(r, 400, "invalidValue", f"Input should be a valid array: {LU}:guardianOf")
    r = portal.req("POST", "/Users", {"schemas": [USER, LU], "userName": "a", LU: {"preschool": "maybe"}})
    assert_error(r, 400, "invalidValue")
    # pydantic's lax mode: "yes", "true", 1 are taken as true.
    r = portal.req("POST", "/Users", {"schemas": [USER, LU], "userName": "b", LU: {"preschool": "yes"}})
    assert r.status == 201 and r.body[LU]["preschool"] is True
    # canonicalValues are not enforced.
    r = portal.req("POST", "/Users", {"schemas": [USER, LU], "userName": "c", LU: {"kind": "alien"}})
    assert r.status == 201


def test_user_name_required_but_empty_accepted(portal: Portal) -> None:
    r = portal.req("POST", "/Users", {"schemas": [USER], "displayName": "x"})
    assert_error(r, 400, "invalidValue", "Field 'userName' is required but value is missing, null or empty")
    r = portal.req("POST", "/Users", {"schemas": [USER], "userName": ""})
    assert r.status == 201  # sic: an empty userName is stored
    r = portal.req("POST", "/Users", b"{")
    assert_error(r, 400, "invalidSyntax")


# ---------------------------------------------------------------- c. PATCH


@pytest.fixture
def guardian(portal: Portal) -> dict[str, Any]:
    return portal.create_user("guardian-1", externalId="esis:guardian:1",
                              name={"givenName": "Piet", "familyName": "Jansen"})


def test_patch_replace_core_sub_attribute(portal: Portal, guardian: dict[str, Any]) -> None:
    r = portal.patch(f"/Users/{guardian['id']}",
                     {"op": "replace", "path": "name.givenName", "value": "Pieter"})
    assert r.status == 204 and r.raw == b""
    assert r.headers["etag"] != guardian["meta"]["version"]
    user = portal.get(f"/Users/{guardian['id']}")
    assert user["name"] == {"givenName": "Pieter", "familyName": "Jansen"}
    assert user["meta"]["version"] == r.headers["etag"]


def test_patch_with_attributes_returns_200_and_the_resource(portal: Portal, guardian: dict[str, Any]) -> None:
    r = portal.patch(f"/Users/{guardian['id']}?attributes=displayName",
                     {"op": "replace", "path": "displayName", "value": "P. Jansen"})
    assert r.status == 200
    assert r.body == {"schemas": [USER], "id": guardian["id"], "displayName": "P. Jansen"}


def test_patch_replace_unset_extension_attribute_sets_it(portal: Portal, guardian: dict[str, Any]) -> None:
    r = portal.patch(f"/Users/{guardian['id']}",
                     {"op": "replace", "path": f"{LU}:nameInfix", "value": "van"},
                     {"op": "replace", "path": "nickName", "value": "pj"})
    assert r.status == 204  # no 400 noTarget for a simple attribute without value
    user = portal.get(f"/Users/{guardian['id']}")
    assert user[LU] == {"nameInfix": "van"}
    assert user["schemas"] == [USER, LU]  # the URN is added
    assert user["nickName"] == "pj"


def test_patch_remove_extension_attribute(portal: Portal, guardian: dict[str, Any]) -> None:
    uid = guardian["id"]
    portal.patch(f"/Users/{uid}", {"op": "add", "path": f"{LU}:nameInfix", "value": "van"},
                 {"op": "add", "path": f"{LU}:kind", "value": "guardian"})
    assert portal.patch(f"/Users/{uid}", {"op": "remove", "path": f"{LU}:nameInfix"}).status == 204
    assert portal.get(f"/Users/{uid}")[LU] == {"kind": "guardian"}
    portal.patch(f"/Users/{uid}", {"op": "remove", "path": f"{LU}:kind"})
    user = portal.get(f"/Users/{uid}")
    assert LU not in user and user["schemas"] == [USER]  # the last one takes the URN along
    # Removing what is not there succeeds, and changes nothing.
    r = portal.patch(f"/Users/{uid}", {"op": "remove", "path": f"{LU}:nameInfix"},
                     {"op": "remove", "path": f"{PU}:allergies"})
    assert r.status == 204
    assert r.headers["etag"] == user["meta"]["version"]


def test_patch_remove_filtered_then_add_in_one_request(portal: Portal, guardian: dict[str, Any]) -> None:
    uid = guardian["id"]
    home = 'phoneNumbers[type eq "home"]'
    # Nothing to remove yet: the remove is a no-op, the add appends.
    r = portal.patch(f"/Users/{uid}", {"op": "remove", "path": home},
                     {"op": "add", "path": "phoneNumbers", "value": [{"type": "home", "value": "010-1"}]})
    assert r.status == 204
    assert portal.get(f"/Users/{uid}")["phoneNumbers"] == [{"value": "010-1", "type": "home"}]
    portal.patch(f"/Users/{uid}", {"op": "add", "path": "phoneNumbers",
                                   "value": [{"type": "mobile", "value": "06-1"}]})
    # Operations run in order: remove the old home number, then add the new one
    # (appended, after the mobile one).
    r = portal.patch(f"/Users/{uid}", {"op": "remove", "path": home},
                     {"op": "add", "path": "phoneNumbers", "value": [{"type": "home", "value": "010-2"}]})
    assert r.status == 204
    assert portal.get(f"/Users/{uid}")["phoneNumbers"] == [
        {"value": "06-1", "type": "mobile"}, {"value": "010-2", "type": "home"}]


def test_patch_add_identical_value_is_noop_but_any_difference_appends(portal: Portal, guardian: dict[str, Any]) -> None:
    uid = guardian["id"]
    add = {"op": "add", "path": "phoneNumbers", "value": [{"type": "home", "value": "010-1"}]}
    portal.patch(f"/Users/{uid}", add)
    version = portal.get(f"/Users/{uid}")["meta"]["version"]
    r = portal.patch(f"/Users/{uid}", add)
    assert r.status == 204 and r.headers["etag"] == version  # no change, same version
    portal.patch(f"/Users/{uid}", {"op": "add", "path": "phoneNumbers",
                                   "value": [{"type": "home", "value": "010-9"}]})
    assert len(portal.get(f"/Users/{uid}")["phoneNumbers"]) == 2  # add never replaces


def test_patch_replace_with_filter_matching_nothing_is_no_target(portal: Portal, guardian: dict[str, Any]) -> None:
    r = portal.patch(f"/Users/{guardian['id']}",
                     {"op": "replace", "path": 'emails[type eq "home"].value', "value": "a@b.nl"})
    assert_error(r, 400, "noTarget", "no value of 'emails' matches the path filter")


def test_patch_replace_whole_multivalued_extension_attribute(portal: Portal, guardian: dict[str, Any]) -> None:
    uid = guardian["id"]
    first = [{"value": "s1", "externalId": "esis:student:1", "relation": "Vader"}]
    assert portal.patch(f"/Users/{uid}", {"op": "replace", "path": f"{LU}:guardianOf", "value": first}).status == 204
    assert portal.get(f"/Users/{uid}")[LU]["guardianOf"] == first
    second = [{"value": "s2", "externalId": "esis:student:2", "relation": "Moeder"},
              {"value": "s3", "externalId": "esis:student:3", "relation": "Voogd"}]
    portal.patch(f"/Users/{uid}", {"op": "replace", "path": f"{LU}:guardianOf", "value": second})
    assert portal.get(f"/Users/{uid}")[LU]["guardianOf"] == second  # replaced, not merged
    portal.patch(f"/Users/{uid}", {"op": "replace", "path": f"{LU}:guardianOf", "value": []})
    assert LU not in portal.get(f"/Users/{uid}")  # an empty list removes it


def test_patch_remove_whole_multivalued_attribute(portal: Portal, guardian: dict[str, Any]) -> None:
    uid = guardian["id"]
    portal.patch(f"/Users/{uid}", {"op": "add", "path": "phoneNumbers",
                                   "value": [{"type": "home", "value": "1"}, {"type": "mobile", "value": "2"}]})
    assert portal.patch(f"/Users/{uid}", {"op": "remove", "path": "phoneNumbers"}).status == 204
    assert "phoneNumbers" not in portal.get(f"/Users/{uid}")
    assert portal.patch(f"/Users/{uid}", {"op": "remove", "path": "phoneNumbers"}).status == 204
    r = portal.patch(f"/Users/{uid}", {"op": "remove", "path": "phoneNumbers", "value": [{"type": "home"}]})
    assert_error(r, 400, "invalidValue",
                 "a remove operation carries no value, a filter in the path selects what to remove")


def test_patch_add_and_replace_without_path(portal: Portal, guardian: dict[str, Any]) -> None:
    uid = guardian["id"]
    r = portal.patch(f"/Users/{uid}", {"op": "add", "value": {
        "displayName": "PJ", "name.familyName": "Jansen-Smit", f"{LU}:kind": "guardian",
        LU: {"emergencyPhone": "112"}}})
    assert r.status == 204
    user = portal.get(f"/Users/{uid}")
    assert user["displayName"] == "PJ"
    assert user["name"] == {"givenName": "Piet", "familyName": "Jansen-Smit"}
    assert user[LU] == {"kind": "guardian", "emergencyPhone": "112"}
    portal.patch(f"/Users/{uid}", {"op": "replace", "value": {"nickName": "Pietje", LU: {"yearLevel": "3"}}})
    user = portal.get(f"/Users/{uid}")
    assert user["nickName"] == "Pietje"
    assert user[LU] == {"kind": "guardian", "emergencyPhone": "112", "yearLevel": "3"}  # merged


def test_patch_unknown_path_is_400_and_request_is_atomic(portal: Portal, guardian: dict[str, Any]) -> None:
    uid = guardian["id"]
    r = portal.patch(f"/Users/{uid}", {"op": "replace", "path": f"{LU}:foo", "value": "x"})
    assert_error(r, 400, "invalidPath", f"'{LU}:foo' is not an attribute of the schema")
    r = portal.patch(f"/Users/{uid}", {"op": "replace", "path": "name.givenName", "value": "A"},
                     {"op": "replace", "path": "foo", "value": "x"})
    assert_error(r, 400, "invalidPath", "'foo' is not an attribute of the schema")
    user = portal.get(f"/Users/{uid}")
    assert user["name"]["givenName"] == "Piet"  # the first operation did not stick
    assert user["meta"]["version"] == guardian["meta"]["version"]
    r = portal.patch("/Users/0123456789abcdef0123456789abcdef",
                     {"op": "replace", "path": "displayName", "value": "x"})
    assert_error(r, 404, None)


# ---------------------------------------------------------------- d. groups


def test_group_with_user_and_group_members(portal: Portal) -> None:
    u = portal.create_user("s1", externalId="parnassys:student:1")
    jaargroep = portal.create_group("Groep 1 (1/2A)", externalId="parnassys:jaargroep:9:1",
                                    **{LG: {"kind": "jaargroep", "yearLevels": ["1"], "primary": True}})
    body = {"schemas": [GROUP, LG], "displayName": "1/2A", "externalId": "parnassys:samengesteld:9",
            "members": [{"value": u["id"], "type": "User"}, {"value": jaargroep["id"], "type": "Group"}],
            LG: {"kind": "samengesteld", "yearLevels": ["1", "2"], "primary": False,
                 "lasOrphaned": False, "parentsSeeAllYearGroups": False}}
    r = portal.req("POST", "/Groups", body)
    assert r.status == 201, r
    assert r.body["members"] == body["members"]  # no $ref or display added
    assert r.body[LG] == body[LG]
    # The member side is not maintained: a User has no "groups".
    assert "groups" not in portal.get(f"/Users/{u['id']}")
    found = portal.search("Groups", f'members.value eq "{jaargroep["id"]}"')
    assert [g["id"] for g in found["Resources"]] == [r.body["id"]]


def test_group_member_add_duplicate_remove_and_unknown(portal: Portal) -> None:
    a, b = portal.create_user("a"), portal.create_user("b")
    g = portal.create_group("G", members=[{"value": a["id"], "type": "User"}])
    path = f"/Groups/{g['id']}"
    # The exact same member object again: a no-op (same version).
    r = portal.patch(path, {"op": "add", "path": "members", "value": [{"value": a["id"], "type": "User"}]})
    assert r.status == 204 and r.headers["etag"] == g["meta"]["version"]
    assert portal.get(path)["members"] == [{"value": a["id"], "type": "User"}]
    # The same id with other sub-attributes: appended, a duplicate member.
    portal.patch(path, {"op": "add", "path": "members", "value": [{"value": a["id"]}]})
    assert portal.get(path)["members"] == [{"value": a["id"], "type": "User"}, {"value": a["id"]}]
    # remove members[value eq id] removes every entry with that id.
    assert portal.patch(path, {"op": "remove", "path": f'members[value eq "{a["id"]}"]'}).status == 204
    assert "members" not in portal.get(path)
    assert portal.patch(path, {"op": "remove", "path": f'members[value eq "{a["id"]}"]'}).status == 204
    # A member that does not exist is accepted as given.
    ghost = "0123456789abcdef0123456789abcdef"
    assert portal.patch(path, {"op": "add", "path": "members", "value": [{"value": ghost, "type": "User"}]}).status == 204
    # $ref relative to the SCIM root comes back absolute.
    portal.patch(path, {"op": "add", "path": "members", "value": [{"value": b["id"], "$ref": f"Users/{b['id']}"}]})
    assert portal.get(path)["members"] == [
        {"value": ghost, "type": "User"},
        {"value": b["id"], "$ref": f"{portal.base_url}/{portal.tenant}/v2/Users/{b['id']}"}]
    # replace members sets the whole list.
    portal.patch(path, {"op": "replace", "path": "members", "value": [{"value": a["id"], "type": "User"}]})
    assert portal.get(path)["members"] == [{"value": a["id"], "type": "User"}]


def test_deleting_a_user_leaves_group_membership_dangling(portal: Portal) -> None:
    a = portal.create_user("a")
    g = portal.create_group("G", members=[{"value": a["id"], "type": "User"}])
    assert portal.req("DELETE", f"/Users/{a['id']}").status == 204
    assert portal.get(f"/Groups/{g['id']}")["members"] == [{"value": a["id"], "type": "User"}]
    assert_error(portal.req("DELETE", f"/Users/{a['id']}"), 404, None)


def test_group_display_name_is_not_unique(portal: Portal) -> None:
    portal.create_group("Groep 3")
    portal.create_group("Groep 3")


# ---------------------------------------------------------------- e. uniqueness


def test_user_name_unique_case_insensitive_409(portal: Portal) -> None:
    portal.create_user("parnassys-guardian-7", externalId="parnassys:guardian:7")
    r = portal.req("POST", "/Users", {"schemas": [USER], "userName": "ParnasSys-Guardian-7"})
    assert_error(r, 409, "uniqueness", UNIQUENESS_DETAIL)
    # PATCH and PUT to a taken userName are refused the same way.
    other = portal.create_user("other")
    r = portal.patch(f"/Users/{other['id']}", {"op": "replace", "path": "userName", "value": "PARNASSYS-GUARDIAN-7"})
    assert_error(r, 409, "uniqueness", UNIQUENESS_DETAIL)
    r = portal.req("PUT", f"/Users/{other['id']}", {"schemas": [USER], "userName": "parnassys-guardian-7"})
    assert_error(r, 409, "uniqueness", UNIQUENESS_DETAIL)


def test_external_id_is_not_unique(portal: Portal) -> None:
    portal.create_user("a", externalId="esis:student:1")
    portal.create_user("b", externalId="esis:student:1")
    assert portal.search("Users", 'externalId eq "esis:student:1"')["totalResults"] == 2


def test_concurrent_creates_of_one_user_name_have_one_winner(portal_env: tuple[str, str]) -> None:
    tenant = new_tenant()
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def create() -> None:
        p = Portal(*portal_env, tenant)
        p.req("GET", "/ServiceProviderConfig")  # connect before the race
        barrier.wait()
        r = p.req("POST", "/Users", {"schemas": [USER], "userName": "same"})
        with lock:
            statuses.append(r.status)
        p.close()

    run_threads(create, 8)
    assert sorted(statuses) == [201] + [409] * 7


# ---------------------------------------------------------------- f. ETags


def test_etag_and_if_match(portal: Portal) -> None:
    u = portal.create_user("a")
    path = f"/Users/{u['id']}"
    v1 = u["meta"]["version"]
    assert v1.startswith('W/"') and v1.endswith('"')
    r = portal.patch(path, {"op": "replace", "path": "displayName", "value": "A"}, headers={"If-Match": v1})
    assert r.status == 204
    v2 = r.headers["etag"]
    assert v2 != v1
    for method, body in (("PATCH", {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "displayName", "value": "B"}]}),
            ("PUT", {"schemas": [USER], "userName": "a"}), ("DELETE", None)):
        r = portal.req(method, path, body, headers={"If-Match": v1})
        assert_error(r, 412, None, PRECONDITION_DETAIL)
    assert portal.patch(path, {"op": "replace", "path": "displayName", "value": "C"},
                        headers={"If-Match": "*"}).status == 204
    current = portal.req("GET", path)
    r = portal.req("GET", path, headers={"If-None-Match": current.headers["etag"]})
    assert r.status == 304 and r.raw == b""
    # Versions come from one counter per tenant: they grow, but not by 1 per resource.
    assert int(current.headers["etag"][3:-1]) > int(v2[3:-1])


def test_put_replaces_whole_resource(portal: Portal) -> None:
    u = portal.create_user("a", externalId="x:1", displayName="A", **{LU: {"kind": "staff"}})
    r = portal.req("PUT", f"/Users/{u['id']}", {"schemas": [USER], "userName": "a"})
    assert r.status == 200
    assert "externalId" not in r.body and "displayName" not in r.body and LU not in r.body


# ---------------------------------------------------------------- g. bulk


def test_bulk_creates_with_bulk_id_references(portal: Portal) -> None:
    r = portal.req("POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER], "userName": "b1"}},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"schemas": [USER], "userName": "b2"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
            "schemas": [GROUP], "displayName": "bg",
            "members": [{"value": "bulkId:u1", "type": "User"}, {"value": "bulkId:u2", "type": "User"}]}}]})
    assert r.status == 200
    assert r.body["schemas"] == [BULK_RESPONSE]
    ops = r.body["Operations"]
    assert [(o["method"], o["bulkId"], o["status"]) for o in ops] == [
        ("POST", "u1", "201"), ("POST", "u2", "201"), ("POST", "g", "201")]
    assert all(o["location"].startswith(f"{portal.base_url}/{portal.tenant}/v2/") and o["version"] for o in ops)
    ids = [o["location"].rsplit("/", 1)[1] for o in ops]
    assert portal.get(f"/Groups/{ids[2]}")["members"] == [
        {"value": ids[0], "type": "User"}, {"value": ids[1], "type": "User"}]


def test_bulk_fail_on_errors_stops_and_is_not_atomic(portal: Portal) -> None:
    r = portal.req("POST", "/Bulk", {"schemas": [BULK], "failOnErrors": 1, "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER], "userName": "dup"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "DUP"}},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"schemas": [USER], "userName": "never"}}]})
    assert r.status == 200
    ops = r.body["Operations"]
    assert [(o["bulkId"], o["status"]) for o in ops] == [("a", "201"), ("b", "409")]
    assert ops[1]["response"] == {"schemas": [ERROR], "status": "409", "scimType": "uniqueness",
                                  "detail": UNIQUENESS_DETAIL}
    assert portal.search("Users", "userName pr")["totalResults"] == 1  # "a" stays


# ---------------------------------------------------------------- h. HTTP


def test_keep_alive_across_statuses(portal: Portal) -> None:
    u = portal.create_user("a")
    portal.req("GET", "/Users")
    sock = portal.conn.sock
    assert sock is not None
    for method, path, body in (
            ("GET", f"/Users/{u['id']}", None),
            ("PATCH", f"/Users/{u['id']}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "displayName", "value": "x"}]}),  # 204
            ("POST", "/Users", {"schemas": [USER], "userName": "a"}),  # 409
            ("GET", "/Users/nope", None),  # 404
            ("POST", "/Users", b"{"),  # 400
            ("DELETE", f"/Users/{u['id']}", None)):  # 204
        r = portal.req(method, path, body)
        assert r.headers.get("connection") != "close", (method, path, r)
        assert portal.conn.sock is sock, f"connection closed after {method} {path} ({r.status})"
    # 204 carries no Content-Length (RFC 9110 §8.6); others carry one.
    r = portal.patch(f"/Users/{portal.create_user('b')['id']}", {"op": "replace", "path": "displayName", "value": "y"})
    assert r.status == 204 and "content-length" not in r.headers


def test_http_1_0_client_gets_connection_close(portal: Portal) -> None:
    conn = http.client.HTTPConnection(portal.host, portal.port, timeout=10)
    conn._http_vsn, conn._http_vsn_str = 10, "HTTP/1.0"  # type: ignore[attr-defined]
    conn.request("GET", f"/{portal.tenant}/v2/ServiceProviderConfig")
    r = conn.getresponse()
    r.read()
    assert r.status == 200 and r.getheader("Connection") == "close"
    conn.close()


def run_threads(target: Callable[[], None], n: int) -> None:
    errors: list[BaseException] = []

    def wrapped() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=wrapped) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    if errors:
        raise errors[0]


def test_concurrent_creates_no_errors_no_duplicates(portal_env: tuple[str, str]) -> None:
    tenant = new_tenant()
    created: list[str] = []
    lock = threading.Lock()
    counter = iter(range(10**6))

    def worker() -> None:
        p = Portal(*portal_env, tenant)
        for _ in range(25):
            with lock:
                n = next(counter)
            r = p.req("POST", "/Users", {"schemas": [USER], "userName": f"c{n}", "externalId": f"x:{n}"})
            assert r.status == 201, r
            with lock:
                created.append(r.body["id"])
        p.close()

    run_threads(worker, 8)
    assert len(created) == 200 and len(set(created)) == 200
    p = Portal(*portal_env, tenant)
    listed = p.filter("Users", "userName pr", count=1000, attributes="userName")
    assert listed["totalResults"] == 200
    assert len({u["userName"] for u in listed["Resources"]}) == 200
    assert p.stats()["writes"] == 200
    p.close()


# ---------------------------------------------------------------- i. throughput (rough, printed)


def measure(portal_env: tuple[str, str], clients: int, seconds: float,
            make_request: Callable[[Portal, int], Response], tenant: str) -> float:
    """Run `clients` keep-alive clients for `seconds`; return requests per second."""
    done = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        p = Portal(*portal_env, tenant)
        n = 0
        while time.monotonic() < deadline:
            r = make_request(p, n)
            assert 200 <= r.status < 300, r
            n += 1
        with lock:
            done[0] += n
        p.close()

    started = time.monotonic()
    run_threads(worker, clients)
    return done[0] / (time.monotonic() - started)


def test_throughput_rough(portal_env: tuple[str, str]) -> None:
    seconds = float(os.environ.get("LASYNC_PORTAL_BENCH_SECONDS", "1.5"))
    tenant = new_tenant()
    p = Portal(*portal_env, tenant)
    ids = [p.create_user(f"seed{i}", externalId=f"seed:{i}")["id"] for i in range(200)]
    p.close()
    seq = iter(range(10**9))
    lock = threading.Lock()

    def get_by_id(c: Portal, n: int) -> Response:
        return c.req("GET", f"/Users/{ids[n % len(ids)]}")

    def create(c: Portal, n: int) -> Response:
        with lock:
            k = next(seq)
        return c.req("POST", "/Users", student(f"bench-{k}", f"bench:student:{k}"))

    def search(c: Portal, n: int) -> Response:
        return c.req("POST", "/Users/.search", {"schemas": [SEARCH], "filter": f'externalId eq "seed:{n % 200}"'})

    results = {}
    for name, fn in (("GET by id", get_by_id), ("POST create", create), ("POST .search externalId", search)):
        for clients in (1, 8):
            results[(name, clients)] = measure(portal_env, clients, seconds, fn, tenant)
    print("\nportal throughput (rough, keep-alive, this machine):")
    for (name, clients), rate in results.items():
        print(f"  {name:26s} {clients} client(s): {rate:7.0f} req/s")
    assert all(rate > 0 for rate in results.values())


# ---------------------------------------------------------------- j. launcher: /_stats and /_faults


def test_stats_count_per_tenant_and_method(portal: Portal) -> None:
    assert portal.stats() == {"GET": 0, "POST": 0, "PUT": 0, "PATCH": 0, "DELETE": 0,
                              "searches": 0, "writes": 0, "bulk": 0, "bulk_operations": 0,
                              "faulted": 0, "wrong_token": 0}
    u = portal.create_user("a")
    portal.get(f"/Users/{u['id']}")
    portal.search("Users", 'userName eq "a"')
    portal.patch(f"/Users/{u['id']}", {"op": "replace", "path": "displayName", "value": "x"})
    portal.req("PUT", f"/Users/{u['id']}", {"schemas": [USER], "userName": "a"})
    portal.req("POST", "/Users", {"schemas": [USER], "userName": "a"})  # 409: still a write attempt
    portal.req("DELETE", f"/Users/{u['id']}")
    assert portal.stats() == {"GET": 1, "POST": 3, "PUT": 1, "PATCH": 1, "DELETE": 1,
                              "searches": 1, "writes": 5, "bulk": 0, "bulk_operations": 0,
                              "faulted": 0, "wrong_token": 0}
    portal.req("POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "b"}},
        {"method": "PATCH", "path": f"/Users/{u['id']}", "data": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "y"}]}}]})
    got = portal.stats()
    assert (got["POST"], got["writes"], got["bulk"], got["bulk_operations"]) == (4, 6, 1, 2)
    whole = portal.raw("GET", "/_stats", auth=False).body
    assert whole["tenants"][portal.tenant]["writes"] == 6
    assert "_probe" not in whole["tenants"]
    r = portal.raw("POST", f"/_stats/reset?tenant={portal.tenant}", auth=False)
    assert r.status == 200
    assert portal.stats()["writes"] == 0


def test_fault_status_with_retry_after_for_count_requests(portal: Portal) -> None:
    r = portal.raw("POST", "/_faults", {"tenant": portal.tenant, "status": 429, "retry_after": 2, "count": 2}, auth=False)
    assert r.status == 201 and r.body["count"] == 2
    for _ in range(2):
        r = portal.req("GET", "/Users")
        assert_error(r, 429, None)
        assert r.headers["retry-after"] == "2"
    assert portal.req("GET", "/Users").status == 200  # used up
    assert portal.stats()["faulted"] == 2
    assert portal.raw("GET", "/_faults", auth=False).body == {"faults": []}


def test_fault_only_for_its_tenant_and_methods(portal_env: tuple[str, str], portal: Portal) -> None:
    other = Portal(*portal_env, new_tenant())
    portal.raw("POST", "/_faults", {"tenant": portal.tenant, "status": 500, "count": -1,
                                    "methods": ["PATCH", "POST"]}, auth=False)
    try:
        assert other.req("POST", "/Users", {"schemas": [USER], "userName": "a"}).status == 201
        assert portal.req("GET", "/Users").status == 200
        r = portal.req("POST", "/Users", {"schemas": [USER], "userName": "a"})
        assert_error(r, 500, None)
        assert "retry-after" not in r.headers
        assert portal.req("POST", "/Users", {"schemas": [USER], "userName": "a"}).status == 500  # until cleared
        assert portal.stats()["writes"] == 0  # faulted requests never reached the server
    finally:
        r = portal.raw("DELETE", f"/_faults?tenant={portal.tenant}", auth=False)
        other.close()
    assert r.body == {"cleared": 1}
    assert portal.req("POST", "/Users", {"schemas": [USER], "userName": "a"}).status == 201


def test_fault_delay_then_serve(portal: Portal) -> None:
    portal.raw("POST", "/_faults", {"tenant": portal.tenant, "delay_ms": 300, "count": 1}, auth=False)
    started = time.monotonic()
    assert portal.req("GET", "/Users").status == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    portal.req("GET", "/Users")
    assert time.monotonic() - started < 0.3


def test_fault_requests_are_validated(portal: Portal) -> None:
    for bad in ({"status": 200}, {"count": 0, "status": 500}, {}, {"status": 500, "bogus": 1},
                {"retry_after": 3}, {"status": 500, "methods": ["FETCH"]}, [1]):
        r = portal.raw("POST", "/_faults", bad, auth=False)
        assert r.status == 400, (bad, r)
    assert portal.raw("POST", "/_faults", b"not json", auth=False).status == 400
    assert portal.raw("GET", "/_nothing", auth=False).status == 404


def test_fault_only_for_its_path(portal: Portal) -> None:
    portal.raw("POST", "/_faults", {"tenant": portal.tenant, "status": 503, "methods": ["POST"],
                                    "path": "/Bulk", "count": 1}, auth=False)
    assert portal.req("POST", "/Users", {"schemas": [USER], "userName": "p"}).status == 201
    r = portal.req("POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "q", "data": {"schemas": [USER], "userName": "q"}}]})
    assert_error(r, 503, None)
    assert portal.stats()["faulted"] == 1 and portal.stats()["bulk"] == 0
    r = portal.raw("POST", "/_faults", {"status": 500, "path": "Bulk"}, auth=False)
    assert r.status == 400
