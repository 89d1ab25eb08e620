"""uvicorn's log lines, its tracebacks included, come out as our structlog JSON like every other line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SERVE_AND_BREAK = textwrap.dedent(
    """
    import asyncio, socket

    import httpx
    from tests.support.inbox import InboxStore, inbox_api
    from nudgeflow.orchestrator.broker.embedded import free_port
    from nudgeflow.orchestrator.logs import configure_logging
    from nudgeflow.orchestrator.runtime.http import HttpServer


    async def discard(prompt):
        return None


    def explode():
        raise RuntimeError("boom in a route")


    async def main():
        configure_logging("INFO", json=True)
        api = inbox_api(InboxStore(), discard, ready=lambda: True, signing_secret="s" * 32)
        api.add_api_route("/explode", explode)
        server = HttpServer(api, host="127.0.0.1", port=free_port("127.0.0.1"))
        await server.start()
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/explode")).status_code == 500
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"NOT HTTP AT ALL\\r\\n\\r\\n")  # uvicorn logs "Invalid HTTP request received."
        await writer.drain()
        await reader.read()
        writer.close()
        await server.stop()


    asyncio.run(main())
    """
)


def test_every_line_the_api_server_logs_is_json_with_the_traceback_inside() -> None:
    done = subprocess.run([sys.executable, "-c", SERVE_AND_BREAK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}\n--- all output:\n{done.stderr}") from None
    crash = [r for r in records if "Exception in ASGI application" in r.get("event", "")]
    assert crash and "RuntimeError: boom in a route" in crash[0]["exception"], records
    assert crash[0]["logger"] == "uvicorn.error" and crash[0]["level"] == "error"
    assert any("Invalid HTTP request" in r.get("event", "") for r in records), records
