"""`python -m nudgeflow.channels.standins [--sendgrid-port N] [--slack-port N]`: run both stand-ins for a demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.slack_server import SlackStandIn


async def serve(*, sendgrid_port: int = 0, slack_port: int = 0, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or forever); prints the URLs to point the channels at."""
    stop = stop or asyncio.Event()
    async with SendGridStandIn(port=sendgrid_port) as sendgrid, SlackStandIn(port=slack_port) as slack:
        print(f"SendGrid stand-in: {sendgrid.url}  (SendGridEmailChannel(host=...))", flush=True)
        print(f"Slack stand-in:    {slack.url}/api/  (SlackChannel(base_url=...))", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sendgrid-port", type=int, default=0)
    parser.add_argument("--slack-port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(sendgrid_port=args.sendgrid_port, slack_port=args.slack_port))


if __name__ == "__main__":
    main()
