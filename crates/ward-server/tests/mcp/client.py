"""The official MCP Python SDK as the gateway's client, for Ward's tests.

    python client.py --out REPORT.json --http URL --key KEY [--version V] [--call NAME JSON]...
    python client.py --out REPORT.json --stdio [--version V] [--call NAME JSON]...

Over HTTP the bearer token says who the client is. With --stdio the SDK
speaks MCP on this process's own stdin and stdout, to a gateway that
serves them (the stdio code path of `ward mcp`, whose config says who the
client is). The report lists the negotiated revision, every tool (all
pages) and each call's result.
"""

import argparse
import asyncio
import json
import os

import mcp.client.session as client_session
from mcp import Client


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--http")
    p.add_argument("--key")
    p.add_argument("--stdio", action="store_true")
    p.add_argument("--version")
    p.add_argument("--call", nargs=2, action="append", default=[], metavar=("NAME", "JSON"))
    return p.parse_args()


async def main(args):
    if args.version:
        # The revision the SDK offers in `initialize` (its default is the newest).
        client_session.LATEST_HANDSHAKE_VERSION = args.version
    if args.http:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {args.key}"}, timeout=60)
        transport = streamable_http_client(args.http, http_client=http)
    else:
        from mcp.server.stdio import stdio_server

        transport = stdio_server()
    report = {"calls": []}
    async with Client(transport, mode="legacy") as c:
        report["protocol"] = c.protocol_version
        report["server"] = c.server_info.name if c.server_info else None
        names, cursor = [], None
        while True:
            page = await c.list_tools(cursor=cursor) if cursor else await c.list_tools()
            names += [t.name for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                break
        report["tools"] = sorted(names)
        for name, arguments in args.call:
            r = await c.call_tool(name, json.loads(arguments))
            report["calls"].append(
                {
                    "name": name,
                    "isError": bool(r.is_error),
                    "text": "\n".join(b.text for b in r.content if getattr(b, "type", "") == "text"),
                    "meta": r.meta,
                }
            )
        with open(args.out, "w") as f:
            json.dump(report, f)
        if args.stdio:
            # Leaving the session would wait for the thread reading stdin,
            # which ends only when the gateway closes the pipe, and the
            # gateway waits for this side to end first.
            os._exit(0)


if __name__ == "__main__":
    asyncio.run(main(parse()))
