"""An independent WebSocket server (the `websockets` package) for the runtime's client tests.

Prints "port N" once listening on 127.0.0.1, then serves until stdin closes:
- /echo        every message back unchanged; picks subprotocol "chat" when offered
- /close-4001  closes at once with code 4001, reason "go away"
"""
import asyncio
import sys

import websockets


async def handler(connection):
    path = connection.request.path
    if path == "/close-4001":
        await connection.close(code=4001, reason="go away")
        return
    async for message in connection:
        await connection.send(message)


def select_subprotocol(connection, offered):
    return "chat" if "chat" in offered else None


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, select_subprotocol=select_subprotocol) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"port {port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
