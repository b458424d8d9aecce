"""The verification snippets of docs/webhooks.md accept a real signature and refuse a forgery."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import WebhookVerificationError

from webhooks.signing import new_secret, signed_headers

DOC = Path(__file__).parents[2] / "docs" / "webhooks.md"


def snippet(language: str) -> str:
    (code,) = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.DOTALL)
    return str(code)


def signed() -> tuple[str, dict[str, str], str]:
    secret = new_secret()
    body = json.dumps({"type": "order.first", "delivery_id": "msg_1", "data": {"total": "9.90"}})
    return secret, signed_headers(secret, "msg_1", body, datetime.now(UTC)), body


def test_python_snippet_verifies() -> None:
    namespace: dict[str, Any] = {}
    exec(snippet("python"), namespace)
    verify = namespace["verify_footfall_webhook"]
    secret, headers, body = signed()
    assert verify(secret, headers, body.encode())["type"] == "order.first"
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, body.replace("9.90", "0.01").encode())


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_snippet_verifies(tmp_path: Path) -> None:
    runner = snippet("javascript") + (
        "\nconst [secret, headers, body] = JSON.parse(process.argv[2]);"
        "\ntry { console.log(JSON.stringify(verifyFootfallWebhook(secret, headers, body))); }"
        "\ncatch (error) { console.log(JSON.stringify({ error: error.message })); }\n"
    )
    script = tmp_path / "verify.js"
    script.write_text(runner)
    secret, headers, body = signed()

    def run(payload: str) -> dict[str, Any]:
        done = subprocess.run(
            ["node", str(script), json.dumps([secret, headers, payload])],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    assert run(body)["type"] == "order.first"
    assert run(body.replace("9.90", "0.01")) == {"error": "bad webhook signature"}
