"""A schemathesis check for dxcp-policy: every error answer is the contract's JSON envelope.

Loaded with SCHEMATHESIS_HOOKS=schemathesis_envelope (this directory on PYTHONPATH) and selected
with --checks error_envelope. A 4xx or 5xx must carry a JSON object with a string `code`,
`message` and `request_id`; 5xx are allowed only as the documented 503s (the kill switch, the
store, the engine) and the engine's 502/504, each in the envelope.
"""
import json

import schemathesis

DOCUMENTED_5XX = {502, 503, 504}


@schemathesis.check
def error_envelope(ctx, response, case):
    status = response.status_code
    if status < 400:
        return None
    if status >= 500:
        assert status in DOCUMENTED_5XX, f"undocumented server error {status}"
    try:
        body = json.loads(response.content or b"")
    except ValueError:
        raise AssertionError(f"{status} without a JSON body: {response.content[:200]!r}")
    assert isinstance(body, dict), f"{status} body is not a JSON object"
    for field in ("code", "message", "request_id"):
        assert isinstance(body.get(field), str) and body[field], f"{status} envelope lacks {field}: {body}"
    return None
