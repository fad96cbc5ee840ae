"""A fake Dispatch control plane for the bridge tests: the sandbox side of §1.8, on `websockets` (>= 13).

    python3 fake_control_plane.py --token TOKEN --sandbox-id ID --session-id SESSION [--refuse STATUS:COUNT]...

Prints "port N" once listening on 127.0.0.1, then one JSON object per line on stdout for everything that
happens:
    {"event": "upgrade", "path": ..., "authorization": ..., "sandbox_id": ..., "status": 101|401|403|404|...}
    {"event": "connected", "connection": n}
    {"event": "frame", "connection": n, "data": {...}, "at": t}   (a text frame, parsed, "raw" if not JSON;
                                                                  t: monotonic seconds when it arrived)
    {"event": "disconnected", "connection": n, "code": ...}
    {"event": "error", "reason": ...}
Like the real one, it refuses the upgrade with 404 for another path or session, 401 for another token and
403 for another sandbox id; `--refuse` (and the `refuse` command) refuse upgrades before any of that is
checked. Commands, one JSON object per line on stdin:
    {"op": "refuse", "status": 410, "count": 1}      refuse the next `count` upgrades (-1: all) with status
    {"op": "send", "frame": {...}}                   send a text frame to the newest connection
    {"op": "close", "code": 1000}                    close the newest connection
It exits when stdin closes.
"""
import argparse
import asyncio
import json
import sys
import threading
import time

from websockets.asyncio.server import serve

output_lock = threading.Lock()


def record(**fields):
    with output_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


class ControlPlane:
    def __init__(self, token, sandbox_id, session_id):
        self.token = token
        self.sandbox_id = sandbox_id
        self.session_id = session_id
        self.refusals = []  # [status, remaining count]
        self.connections = []
        self.counter = 0

    def process_request(self, connection, request):
        path = request.path
        authorization = request.headers.get("Authorization")
        sandbox = request.headers.get("X-Sandbox-ID")
        status = 101
        if self.refusals:
            status = self.refusals[0][0]
            if self.refusals[0][1] > 0:
                self.refusals[0][1] -= 1
                if self.refusals[0][1] == 0:
                    self.refusals.pop(0)
        elif path != f"/sessions/{self.session_id}/ws?type=sandbox":
            status = 404
        elif authorization != f"Bearer {self.token}":
            status = 401
        elif sandbox != self.sandbox_id:
            status = 403
        record(event="upgrade", path=path, authorization=authorization, sandbox_id=sandbox, status=status)
        if status != 101:
            return connection.respond(status, f"refused with {status}\n")
        return None

    async def handler(self, connection):
        self.counter += 1
        number = self.counter
        self.connections.append(connection)
        record(event="connected", connection=number)
        try:
            async for message in connection:
                if isinstance(message, bytes):
                    record(event="frame", connection=number, binary=len(message))
                    continue
                try:
                    record(event="frame", connection=number, data=json.loads(message), at=time.monotonic(),
                           size=len(message.encode()))
                except ValueError:
                    record(event="frame", connection=number, raw=message)
        except Exception as error:  # the bridge went away mid-frame: that is a disconnect too
            record(event="error", reason=repr(error))
        finally:
            self.connections.remove(connection)
            record(event="disconnected", connection=number, code=connection.close_code)

    async def command(self, line):
        try:
            command = json.loads(line)
        except ValueError:
            record(event="error", reason=f"bad command {line!r}")
            return
        op = command.get("op")
        if op == "refuse":
            self.refusals.append([int(command["status"]), int(command.get("count", 1))])
        elif op == "send":
            if not self.connections:
                record(event="error", reason="send: no connection")
                return
            await self.connections[-1].send(json.dumps(command["frame"]))
        elif op == "close":
            if self.connections:
                await self.connections[-1].close(code=int(command.get("code", 1000)))
        else:
            record(event="error", reason=f"unknown op {op!r}")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--sandbox-id", required=True)
    parser.add_argument("--session-id", required=True)
    parser.add_argument("--refuse", action="append", default=[], help="STATUS:COUNT (COUNT -1: every upgrade)")
    arguments = parser.parse_args()
    plane = ControlPlane(arguments.token, arguments.sandbox_id, arguments.session_id)
    for refusal in arguments.refuse:
        status, count = refusal.split(":")
        plane.refusals.append([int(status), int(count)])
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def read_commands():
        for line in sys.stdin:
            if line.strip():
                asyncio.run_coroutine_threadsafe(plane.command(line), loop).result()
        loop.call_soon_threadsafe(done.set)

    # max_size: what the runtime's WebSocket server accepts by default (1 MiB), as the real one does.
    async with serve(plane.handler, "127.0.0.1", 0, process_request=plane.process_request,
                     ping_interval=None, max_size=1024 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"port {port}", flush=True)
        threading.Thread(target=read_commands, daemon=True).start()
        await done.wait()


asyncio.run(main())
