"""Error answers in all four body shapes become the right audiobatch errors."""

from __future__ import annotations

import json

import httpx
import pytest

from audiobatch.elevenlabs.client import ElevenLabsClient
from audiobatch.elevenlabs.errors import error_from_response
from audiobatch.errors import (
    AccountError,
    AnswerTooLargeError,
    ApiBusyError,
    ApiTransportError,
    ConcurrencyLimitError,
    FatalApiError,
)


def answer(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=raw, headers=headers or {})


def classify(response: httpx.Response) -> object:
    return error_from_response(response, response.content)


def test_a_legacy_concurrency_answer_is_a_concurrency_limit() -> None:
    error = classify(
        answer(429, {"detail": {"status": "too_many_concurrent_requests", "message": "Too many"}})
    )
    assert isinstance(error, ConcurrencyLimitError)
    assert error.code == "too_many_concurrent_requests"
    assert error.message == "Too many"


def test_the_current_shape_is_read_by_code_before_status() -> None:
    body = {
        "detail": {
            "type": "rate_limit_error",
            "code": "concurrent_limit_exceeded",
            "status": "legacy_thing",
            "message": "Too many",
            "request_id": "req-1",
        }
    }
    error = classify(answer(429, body))
    assert isinstance(error, ConcurrencyLimitError)
    assert (error.code, error.request_id) == ("concurrent_limit_exceeded", "req-1")


def test_system_busy_is_a_busy_error_not_a_concurrency_limit() -> None:
    error = classify(answer(429, {"detail": {"status": "system_busy", "message": "traffic"}}))
    assert type(error) is ApiBusyError


def test_a_pydantic_422_list_is_fatal_and_names_the_fields() -> None:
    body = {
        "detail": [
            {
                "type": "float_type",
                "loc": ["body", "settings", "stability"],
                "msg": "Input should be a valid number",
            }
        ]
    }
    error = classify(answer(422, body))
    assert isinstance(error, FatalApiError)
    assert "body.settings.stability: Input should be a valid number" in error.message


def test_a_bare_string_detail_and_an_unwrapped_500_are_understood() -> None:
    assert classify(answer(404, {"detail": "Not Found"})).message == "Not Found"  # type: ignore[attr-defined]
    error = classify(answer(500, {"status": "internal_server_error", "message": "crash"}))
    assert isinstance(error, ApiBusyError)
    assert error.code == "internal_server_error"


def test_a_non_json_body_still_gives_a_message() -> None:
    error = classify(answer(502, b"<html>bad gateway</html>"))
    assert isinstance(error, ApiBusyError)
    assert "bad gateway" in error.message


@pytest.mark.parametrize("code", ["invalid_api_key", "quota_exceeded"])
def test_401s_are_account_errors(code: str) -> None:
    assert isinstance(
        classify(answer(401, {"detail": {"status": code, "message": "no"}})), AccountError
    )


def test_retry_after_in_seconds_is_read() -> None:
    error = classify(answer(503, {"detail": "busy"}, {"retry-after": "12"}))
    assert error.retry_after_s == 12.0  # type: ignore[attr-defined]


def test_a_body_shorter_than_its_content_length_is_a_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"12345", headers={"content-length": "10"})

    client = ElevenLabsClient("http://api.test", "key", transport=httpx.MockTransport(handler))
    with (
        pytest.raises(ApiTransportError, match="cut short"),
        client.text_to_dialogue({"inputs": []}, "mp3_44100_128") as ans,
    ):
        b"".join(ans.iter_bytes())


def test_the_api_key_travels_only_in_its_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"audio")

    client = ElevenLabsClient("http://api.test", "sekrit", transport=httpx.MockTransport(handler))
    with client.text_to_dialogue({"inputs": []}, "pcm_16000") as ans:
        assert b"".join(ans.iter_bytes()) == b"audio"
    assert seen[0].headers["xi-api-key"] == "sekrit"
    assert "sekrit" not in str(seen[0].url)
    assert seen[0].url.params["output_format"] == "pcm_16000"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (
            {"detail": {"type": "rate_limit_error", "code": "system_busy", "message": "m"}},
            ApiBusyError,
        ),
        (
            {"detail": {"status": "concurrent_limit_exceeded", "message": "m"}},
            ConcurrencyLimitError,
        ),
        ({"detail": {"status": "quota_exceeded", "message": "m"}}, AccountError),
        ({"detail": {"code": "maintenance", "message": "m"}}, ApiBusyError),
        ({"status": "internal_server_error", "message": "m"}, ApiBusyError),
        (
            {"detail": {"type": "not_found", "code": "voice_not_found", "message": "m"}},
            FatalApiError,
        ),
        ({"detail": {"code": "invalid_parameters", "message": "m"}}, FatalApiError),
        ({"detail": "Not Found"}, ApiBusyError),  # names no error: a gateway's doing
        (b"<html><title>502 Bad Gateway</title></html>", ApiBusyError),
    ],
)
def test_an_error_body_in_a_200_is_classified_by_what_it_says(body: object, kind: type) -> None:
    error = classify(answer(200, body))
    assert type(error) is kind
    assert error.status == 200  # type: ignore[attr-defined]
    assert "(an error body in a 200 answer)" in str(error)


def test_an_html_error_page_is_told_by_its_title() -> None:
    page = b"<!DOCTYPE html><html><head><title>\n 503 Service\n Unavailable</title></head></html>"
    assert str(classify(answer(503, page))) == "an HTML page: 503 Service Unavailable"


def test_a_json_answer_beyond_its_cap_is_refused_for_good() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"audio_base64": "A" * 5000})

    client = ElevenLabsClient("http://api.test", "key", transport=httpx.MockTransport(handler))
    with (
        pytest.raises(AnswerTooLargeError, match="larger than 1000 bytes"),
        client.text_to_dialogue_with_timestamps({"inputs": []}, "mp3_44100_128") as ans,
    ):
        ans.read_json(1000)
