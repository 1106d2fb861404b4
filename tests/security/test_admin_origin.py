"""Cross-site requests cannot drive the admin listener.

Before: without a token (the default) a `text/plain` POST from any web page, with a foreign Origin
and Host, added fault rules or reset (wiped) the state. Now the listener refuses foreign `Host`
(DNS rebinding) and foreign `Origin` with 403, and CORS-"simple" content types on state-changing
requests with 415; nothing changes. The CLI/client shapes (no Origin, JSON) and the listener's own
origin keep working, and the token is accepted from the header or the inspector's cookie.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from clients.artifact import upload
from tests.client.conftest import downloaded_sha256, make_client, new_id, sha256
from tests.emulator_process import DEFAULT_ID, EmulatorProcess

JSON = {"Content-Type": "application/json"}
RULE = '{"action": "reject", "count": 1}'
CONTENT_TYPE_REFUSAL = "POST /faults needs Content-Type: application/json"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("origin") / "state",
        canisters=[f"artifact={DEFAULT_ID}"],
        extra_args=["--quiet"],
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def stored(emu: EmulatorProcess) -> tuple[str, str]:
    data = os.urandom(100_000)
    mid = new_id()
    upload(make_client(emu.url), mid, data)
    return mid, sha256(data)


def _port(emu: EmulatorProcess) -> int:
    port = urlsplit(emu.admin_url).port
    assert port is not None
    return port


def _faults(emu: EmulatorProcess) -> list[object]:
    return list(httpx.get(f"{emu.admin_url}/faults").json())


def _post(emu: EmulatorProcess, path: str, body: str | bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{emu.admin_url}{path}", content=body, headers=headers)


def _hostile_shapes(emu: EmulatorProcess) -> dict[str, tuple[dict[str, str], int, str]]:
    port = _port(emu)
    return {
        "text/plain POST": ({"Content-Type": "text/plain"}, 415, f"{CONTENT_TYPE_REFUSAL} (got 'text/plain'"),
        "form POST": (
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            f"{CONTENT_TYPE_REFUSAL} (got 'application/x-www-form-urlencoded'",
        ),
        "multipart POST": (
            {"Content-Type": "multipart/form-data; boundary=x"},
            415,
            CONTENT_TYPE_REFUSAL,
        ),
        "no content type": ({}, 415, f"{CONTENT_TYPE_REFUSAL} (got None"),
        "foreign Origin with JSON": (
            {**JSON, "Origin": "http://evil.example"},
            403,
            "cross-origin request from 'http://evil.example' refused",
        ),
        "foreign Origin on our port": (
            {**JSON, "Origin": f"http://evil.example:{port}"},
            403,
            f"cross-origin request from 'http://evil.example:{port}' refused",
        ),
        "own host, other port": (
            {**JSON, "Origin": f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}"},
            403,
            "cross-origin request from",
        ),
        "https origin": (
            {**JSON, "Origin": f"https://127.0.0.1:{port}"},
            403,
            "cross-origin request from",
        ),
        "Origin null": ({**JSON, "Origin": "null"}, 403, "cross-origin request from 'null' refused"),
        "DNS rebinding Host": (
            {**JSON, "Host": f"rebind.evil.example:{port}"},
            403,
            f"Host 'rebind.evil.example:{port}' is not this admin listener (DNS rebinding defence)",
        ),
        "Host without port": ({**JSON, "Host": "127.0.0.1"}, 403, "is not this admin listener"),
    }


SHAPES = [
    "text/plain POST",
    "form POST",
    "multipart POST",
    "no content type",
    "foreign Origin with JSON",
    "foreign Origin on our port",
    "own host, other port",
    "https origin",
    "Origin null",
    "DNS rebinding Host",
    "Host without port",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_cross_site_fault_rule_is_refused(shape: str, emu: EmulatorProcess) -> None:
    headers, status, reason = _hostile_shapes(emu)[shape]
    answer = _post(emu, "/faults", RULE, headers)
    assert answer.status_code == status
    assert reason in answer.json()["error"]
    assert _faults(emu) == []


@pytest.mark.parametrize(
    "shape", ["text/plain POST", "form POST", "foreign Origin with JSON", "DNS rebinding Host"]
)
def test_cross_site_reset_is_refused_and_data_stays(
    shape: str, emu: EmulatorProcess, stored: tuple[str, str]
) -> None:
    headers, status, _ = _hostile_shapes(emu)[shape]
    answer = _post(emu, f"/canisters/{DEFAULT_ID}/reset", "", headers)
    assert answer.status_code == status
    assert "error" in answer.json()
    mid, digest = stored
    assert downloaded_sha256(emu.admin_url, mid) == digest


def test_cross_site_read_is_refused(emu: EmulatorProcess) -> None:
    """A rebinding page must not read state either (inspect views hold every user's data)."""
    port = _port(emu)
    answer = httpx.get(f"{emu.admin_url}/canisters", headers={"Host": f"rebind.evil.example:{port}"})
    assert answer.status_code == 403
    answer = httpx.get(f"{emu.admin_url}/canisters", headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403


def test_cross_site_no_cors_requests_are_refused_but_links_work(emu: EmulatorProcess) -> None:
    """An `<img src=".../snapshot">` sends no Origin; the browser's Sec-Fetch-Site still names it."""
    for site in ("cross-site", "same-site"):
        answer = httpx.get(
            f"{emu.admin_url}/snapshot", headers={"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors"}
        )
        assert answer.status_code == 403
        assert answer.json()["error"] == f"{site} request refused (Sec-Fetch-Site)"
    posted = _post(
        emu, "/faults", RULE, {**JSON, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    )
    assert posted.status_code == 403
    assert _faults(emu) == []
    link = httpx.get(
        f"{emu.admin_url}/health", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    )
    assert link.status_code == 200
    own = httpx.get(
        f"{emu.admin_url}/faults", headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    )
    assert own.status_code == 200


def test_same_origin_and_cli_shapes_work(emu: EmulatorProcess) -> None:
    port = _port(emu)
    allowed = [
        JSON,
        {**JSON, "Origin": f"http://127.0.0.1:{port}"},
        {**JSON, "Origin": f"http://localhost:{port}", "Host": f"localhost:{port}"},
        {"Content-Type": "application/json; charset=utf-8", "Host": f"[::1]:{port}"},
    ]
    for headers in allowed:
        answer = _post(emu, "/faults", RULE, headers)
        assert answer.status_code == 201, (headers, answer.text)
    assert len(_faults(emu)) == len(allowed)
    cleared = httpx.delete(f"{emu.admin_url}/faults", headers=JSON)
    assert cleared.status_code == 200 and cleared.json() == {"removed": len(allowed)}


def test_delete_needs_json_content_type_too(emu: EmulatorProcess) -> None:
    assert _post(emu, "/faults", RULE, JSON).status_code == 201
    answer = httpx.delete(f"{emu.admin_url}/faults")
    assert answer.status_code == 415
    assert len(_faults(emu)) == 1
    assert httpx.delete(f"{emu.admin_url}/faults", headers=JSON).json() == {"removed": 1}


@pytest.fixture(scope="module")
def token_emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("token") / "state", extra_args=["--quiet", "--admin-token", "s3cret"]
    ) as proc:
        yield proc


def test_token_from_header_or_cookie(token_emu: EmulatorProcess) -> None:
    url = f"{token_emu.admin_url}/faults"
    assert httpx.get(f"{token_emu.admin_url}/health").status_code == 200
    assert httpx.get(f"{token_emu.admin_url}/ready").status_code == 200
    refused = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic s3cret"},
        {"Cookie": "sf_admin_token=wrong"},
        {"Cookie": "other=s3cret"},
    ]
    for headers in refused:
        answer = httpx.post(url, content=RULE, headers={**JSON, **headers})
        assert answer.status_code == 401, headers
        assert answer.json()["error"] == "missing or wrong admin token (Authorization: Bearer or cookie)"
    assert httpx.get(url, headers={"Authorization": "Bearer s3cret"}).json() == []
    assert (
        httpx.post(url, content=RULE, headers={**JSON, "Authorization": "Bearer s3cret"}).status_code == 201
    )
    assert (
        httpx.post(url, content=RULE, headers={**JSON, "Cookie": "sf_admin_token=s3cret"}).status_code == 201
    )
    # A valid cookie does not make a cross-site request acceptable.
    foreign = {**JSON, "Cookie": "sf_admin_token=s3cret", "Origin": "http://evil.example"}
    assert httpx.post(url, content=RULE, headers=foreign).status_code == 403
    assert len(httpx.get(url, headers={"Cookie": "sf_admin_token=s3cret"}).json()) == 2


def test_wildcard_bind_accepts_ip_literals_but_not_names(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Bound to 0.0.0.0 the listener is addressed by some IP of this machine: an IP literal `Host`
    cannot come from a rebinding page (its origin would be that IP), a foreign name can."""
    proc = EmulatorProcess(
        tmp_path_factory.mktemp("wildcard") / "state", extra_args=["--quiet", "--admin-host", "0.0.0.0"]
    )
    proc.start()
    try:
        port = _port(proc)
        url = f"http://127.0.0.1:{port}/faults"
        for host in (f"10.1.2.3:{port}", f"127.0.0.1:{port}", f"[fe80::1]:{port}"):
            assert httpx.get(url, headers={"Host": host}).status_code == 200, host
        refused = httpx.get(url, headers={"Host": f"rebind.evil.example:{port}"})
        assert refused.status_code == 403
        assert httpx.get(url, headers={"Host": "10.1.2.3:1"}).status_code == 403
    finally:
        proc.stop()
