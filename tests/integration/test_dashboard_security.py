"""The dashboard exposed to hostile clients: bodies refused before they are read, other hosts
refused, sessions that end, throttled tokens, CSRF only skipped for a valid Bearer token,
security headers, local API docs, literal batch references, no download through a link out of
storage, out-of-range numbers; against real PostgreSQL (and uvicorn where bytes on the wire
matter)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from audiobatch.dashboard.app import create_app
from audiobatch.db.models import Batch, BatchStatus, DashboardSession, JobStatus, utcnow
from audiobatch.db.session import session_scope
from tests.dashboard_stack import SCRIPT, TOKEN, Stack, dashboard_settings, make_stack, served

BEARER = {"Authorization": f"Bearer {TOKEN}"}
UPLOAD_HEADERS = (
    "POST /api/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Requested-By: tests\r\n"
    "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 419430400\r\n\r\n"
)


@pytest.fixture
def stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    made = make_stack(postgres_url, tmp_path)
    with made.client:
        yield made


@pytest.fixture
def guarded(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    """A dashboard with an operator token."""
    made = make_stack(postgres_url, tmp_path, dashboard_token=TOKEN)
    with made.client:
        yield made


def answer_to_headers_only(port: int, request: str) -> str:
    """What the server answers to ``request``'s headers, with not one byte of its body sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        with sock.makefile("rb") as reader:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += reader.readline()
            length = re.search(rb"content-length: (\d+)", head.lower())
            assert length is not None
            return (head + reader.read(int(length[1]))).decode()


def test_a_400_mb_upload_is_refused_after_its_headers_unread(
    postgres_url: str, tmp_path: Path
) -> None:
    make_stack(postgres_url, tmp_path)
    with served(dashboard_settings(postgres_url, tmp_path, dashboard_token=TOKEN)) as port:
        assert answer_to_headers_only(port, UPLOAD_HEADERS).startswith("HTTP/1.1 401")
    with served(dashboard_settings(postgres_url, tmp_path)) as port:  # everyone is an operator
        answer = answer_to_headers_only(port, UPLOAD_HEADERS)
        assert (
            answer.startswith("HTTP/1.1 413") and "AUDIOBATCH_DASHBOARD_MAX_UPLOAD_BYTES" in answer
        )


def test_a_body_sent_in_chunks_is_cut_off_at_the_route_s_limit(
    postgres_url: str, tmp_path: Path
) -> None:
    made = make_stack(postgres_url, tmp_path, dashboard_max_upload_bytes=64 << 10)
    manifest = b"batch: big\njobs: []\n" + b"#" * (200 << 10)

    def chunks() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="manifest"; filename="m.yaml"\r\n\r\n'
        for start in range(0, len(manifest), 8192):
            yield manifest[start : start + 8192]
        yield b"\r\n--x--\r\n"

    with made.client as client:
        headers = {**SCRIPT, "Content-Type": "multipart/form-data; boundary=x"}
        answer = client.post("/api/batches", headers=headers, content=chunks())
        assert answer.status_code == 413, answer.text
        assert client.get("/api/batches", params={"name": "big"}).json()["total"] == 0
        login = client.post("/login", headers=SCRIPT, data={"token": "x" * (100 << 10)})
        assert login.status_code == 413 and "MAX_BODY_BYTES" in login.text


def test_an_unknown_host_is_refused_and_the_loopback_names_are_answered(stack: Stack) -> None:
    for host in ["evil.example", "evil.example:8000", "127.0.0.2", "localhost.evil.example"]:
        for path in ["/api/batches", "/", f"/batches/{stack.seeded.done}/outputs/intro/audio.mp3"]:
            answer = stack.client.get(path, headers={"Host": host})
            assert answer.status_code == 400, (host, path)
            assert "AUDIOBATCH_DASHBOARD_ALLOWED_HOSTS" in answer.text
    retry = stack.client.post(
        f"/api/batches/{stack.seeded.broken}/retry", headers={**SCRIPT, "Host": "evil.example"}
    )
    assert retry.status_code == 400
    assert stack.status_of(stack.seeded.broken, "bad") is JobStatus.FAILED
    for host in ["localhost", "LOCALHOST:8000", "127.0.0.1:8000", "[::1]:8000", "localhost."]:
        assert stack.client.get("/api/batches", headers={"Host": host}).status_code == 200, host


def test_any_host_is_answered_when_the_setting_says_so(postgres_url: str, tmp_path: Path) -> None:
    made = make_stack(postgres_url, tmp_path, dashboard_allowed_hosts="dash.example, *")
    with made.client as client:
        assert client.get("/api/batches", headers={"Host": "evil.example"}).status_code == 200


def login(client: TestClient, token: str = TOKEN) -> str:
    """Log in through the form; the session cookie it set."""
    client.get("/login")
    answer = client.post(
        "/login",
        data={"token": token, "csrf_token": client.cookies["audiobatch_csrf"]},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain HTTP
    return client.cookies["audiobatch_session"]


def role_with(client: TestClient, session_cookie: str) -> str:
    client.cookies.set("audiobatch_session", session_cookie)
    role: str = client.get("/api/whoami").json()["role"]
    return role


def test_a_session_is_new_at_each_login_and_ends_at_logout(guarded: Stack) -> None:
    client = guarded.client
    first = login(client)
    assert TOKEN not in first
    second = login(client)
    assert second != first
    assert role_with(client, first) == "viewer"  # the login replaced it
    assert role_with(client, second) == "operator"
    answer = client.post("/logout", data={"csrf_token": client.cookies["audiobatch_csrf"]})
    assert answer.status_code == 200 and "logged out" in answer.text
    assert role_with(client, second) == "viewer"  # a copy of the cookie is worth nothing now


def test_a_session_ends_when_it_expires_or_the_token_changes(
    guarded: Stack, tmp_path: Path
) -> None:
    cookie = login(guarded.client)
    other = dashboard_settings(guarded.url, tmp_path, dashboard_token="another-token")
    with TestClient(create_app(other), base_url="http://localhost") as elsewhere:
        assert role_with(elsewhere, cookie) == "viewer"
    assert role_with(guarded.client, cookie) == "operator"
    with session_scope(guarded.url) as session:
        session.execute(update(DashboardSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert role_with(guarded.client, cookie) == "viewer"


def test_cookies_are_secure_over_https_and_behind_a_trusted_proxy_only(
    postgres_url: str, tmp_path: Path
) -> None:
    made = make_stack(postgres_url, tmp_path)
    forwarded = {"X-Forwarded-Proto": "https"}
    for proxies, secure in [("testclient", True), ("", False)]:
        settings = dashboard_settings(
            made.url, tmp_path, dashboard_token=TOKEN, dashboard_trusted_proxies=proxies
        )
        app = create_app(settings)
        with TestClient(app, base_url="http://localhost", headers=forwarded) as client:
            csrf_cookie = client.get("/login").headers["set-cookie"]
            answer = client.post(
                "/login", data={"token": TOKEN, "csrf_token": client.cookies["audiobatch_csrf"]},
                follow_redirects=False,
            )  # fmt: skip
            assert ("Secure" in csrf_cookie) is secure
            assert ("Secure" in answer.headers["set-cookie"]) is secure


def test_wrong_tokens_are_throttled_per_address_then_answered_429(guarded: Stack) -> None:
    client = guarded.client
    client.get("/login")
    csrf = client.cookies["audiobatch_csrf"]
    for _ in range(3):
        assert client.post("/login", data={"token": "guess", "csrf_token": csrf}).status_code == 401
    for _ in range(2):
        wrong = client.get("/api/whoami", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
    for attempt in [
        lambda: client.post("/login", data={"token": TOKEN, "csrf_token": csrf}),
        lambda: client.get("/api/whoami", headers=BEARER),
    ]:
        answer = attempt()
        assert answer.status_code == 429, answer.text
        assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert client.get("/api/whoami").json()["role"] == "viewer"  # reading stays open


def test_only_a_valid_bearer_token_skips_the_csrf_check(stack: Stack) -> None:
    path = f"/api/batches/{stack.seeded.broken}/retry"
    basic = stack.client.post(path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 403 and "CSRF" in basic.json()["detail"]
    assert stack.status_of(stack.seeded.broken, "bad") is JobStatus.FAILED


def test_a_valid_bearer_token_acts_without_a_csrf_token(guarded: Stack) -> None:
    path = f"/api/batches/{guarded.seeded.broken}/retry"
    basic = guarded.client.post(path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    assert guarded.client.post(path, headers=BEARER).status_code == 200


def test_every_answer_carries_the_security_headers(stack: Stack) -> None:
    seeded = stack.seeded
    for method, path in [
        ("GET", "/"),
        ("GET", f"/batches/{seeded.done}"),
        ("GET", "/api/batches"),
        ("GET", "/api/batches/nope"),
        ("GET", "/static/dashboard.js"),
        ("GET", "/docs"),
        ("GET", f"/batches/{seeded.done}/outputs/intro/audio.mp3"),
        ("POST", f"/api/batches/{seeded.broken}/retry"),  # refused: no CSRF token
    ]:
        answer = stack.client.request(method, path)
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
    refused = stack.client.get("/", headers={"Host": "evil.example"})
    assert refused.headers["x-frame-options"] == "DENY"


def test_pages_have_no_inline_script_or_style_for_the_policy_to_block(stack: Stack) -> None:
    seeded = stack.seeded
    for path in ["/", f"/batches/{seeded.broken}", "/schedules", "/limiter", "/login", "/docs"]:
        page = stack.client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert not re.search(r"\s(style|on[a-z]+)=", page), path


def test_the_api_docs_are_served_from_local_assets(stack: Stack) -> None:
    page = stack.client.get("/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    for source in sources:
        asset = stack.client.get(source)
        assert asset.status_code == 200, source
    bundle = stack.client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"] and "SwaggerUIBundle" in bundle.text
    assert "/openapi.json" in stack.client.get("/static/docs.js").text
    assert stack.client.get("/redoc").status_code == 404  # it would load from a CDN


def test_batch_references_are_an_exact_id_a_unique_prefix_or_a_name_without_wildcards(
    stack: Stack,
) -> None:
    done = stack.seeded.done  # b-done, b-broken, b-nightly

    def found(ref: str) -> str | int:
        answer = stack.client.get(f"/api/batches/{ref}")
        return answer.json()["id"] if answer.status_code == 200 else answer.status_code

    assert found(done) == done and found("b-d") == done and found("demo") == done
    for ref in ["b_done", "b%25", "%25", "_", "b-d_ne", "b-%25e"]:
        assert found(ref) == 404, ref
    ambiguous = stack.client.get("/api/batches/b-")
    assert ambiguous.status_code == 404 and "ambiguous" in ambiguous.json()["detail"]
    with session_scope(stack.url) as session:  # a literal % or _ in an id matches itself
        session.add(
            Batch(
                id="x%y_z", name="literal", status=BatchStatus.SUCCEEDED,
                manifest_sha256="0" * 64, source="-",
            )
        )  # fmt: skip
    assert found("x%25y") == "x%y_z" and found("x%25y_z") == "x%y_z"
    assert found("x_y") == 404 and found("x%25y%25") == 404
    broken = stack.seeded.broken
    for action in ["retry", "cancel"]:
        refused = stack.client.post(f"/api/batches/b_broken/{action}", headers=SCRIPT)
        assert refused.status_code == 404
    assert stack.status_of(broken, "bad") is JobStatus.FAILED
    assert stack.client.get("/batches/b_broken").status_code == 404


def test_a_download_never_follows_a_link_out_of_the_storage_root(
    stack: Stack, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.mp3"
    secret.write_bytes(b"ID3 not an output")
    stored = tmp_path / "renders" / "demo" / stack.seeded.done / "intro" / "audio.mp3"
    stored.unlink()
    stored.symlink_to(secret)
    answer = stack.client.get(f"/batches/{stack.seeded.done}/outputs/intro/audio.mp3")
    assert answer.status_code == 404 and b"not an output" not in answer.content
    folder = stored.parent
    for link in folder.iterdir():
        link.unlink()
    folder.rmdir()
    folder.symlink_to(tmp_path)  # the job's folder itself is a link out
    (tmp_path / "audio.mp3").write_bytes(b"ID3 not an output either")
    answer = stack.client.get(f"/batches/{stack.seeded.done}/outputs/intro/audio.mp3")
    assert answer.status_code == 404 and b"not an output" not in answer.content


def test_out_of_range_ids_and_pages_are_422_or_404_never_500(stack: Stack) -> None:
    client = TestClient(
        stack.client.app, base_url="http://localhost", raise_server_exceptions=False
    )
    huge = str(2**70)
    for method, path, params in [
        ("GET", f"/api/jobs/{huge}", {}),
        ("GET", f"/jobs/{huge}", {}),
        ("GET", "/api/jobs/-1", {}),
        ("GET", "/api/jobs/0", {}),
        ("POST", f"/api/jobs/{huge}/retry", {}),
        ("POST", f"/api/jobs/{huge}/retake", {}),
        ("POST", "/api/jobs/1/retake", {"seed": str(2**32)}),
        ("GET", "/api/batches", {"page": huge}),
        ("GET", "/api/batches", {"page": str(2**40)}),
        ("GET", "/api/batches", {"page": "-3"}),
        ("GET", "/api/jobs", {"page": str(2**40), "per_page": "500"}),
        ("GET", "/", {"page": str(2**40)}),
        ("GET", f"/batches/{stack.seeded.done}", {"page": huge}),
        ("GET", "/api/activity", {"buckets": huge}),
    ]:
        answer = client.request(method, path, params=params, headers=SCRIPT)
        assert answer.status_code == 422, (path, params, answer.status_code)
    assert client.get(f"/api/jobs/{2**63 - 1}").status_code == 404
    assert client.get("/api/batches", params={"page": 999_999}).json()["items"] == []
