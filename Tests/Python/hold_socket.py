"""Opens one WebSocket with the given headers and holds it until killed (for tests that need a peer to
vanish without a close frame: SIGKILL it and the kernel just closes the TCP connection).

Usage: hold_socket.py URL [Name: value]...    prints "connected" once the upgrade succeeded.
"""
import asyncio
import inspect
import sys

import websockets


async def main():
    headers = dict(item.split(": ", 1) for item in sys.argv[2:])
    keyword = "additional_headers" if "additional_headers" in inspect.signature(websockets.connect).parameters else "extra_headers"
    async with websockets.connect(sys.argv[1], **{keyword: headers}) as socket:
        print("connected", flush=True)
        async for _ in socket:
            pass


asyncio.run(main())
