"""An independent WebSocket client for the runtime's end-to-end tests, driven one command at a time.

The Swift tests (Tests/ServerTests/WebSocketDriver.swift) start it as
`python3 ws_driver.py <port>`; it answers `{"ok": true, "ready": true, ...}` once it is loaded. Then they
write one JSON command per line on stdin, and every command gets exactly one JSON line back on stdout:
`{"ok": true, ...}` or `{"ok": false, "error": "..."}`. Nothing else is written to stdout. Between
commands the tests look at the server (live objects, open sockets), which is why the scenarios are
steps and not whole scripts.

Two kinds of connection, each named by an `id` the test picks:
- library connections, made with the `websockets` package (`connect`, `send`, `recv`, `close`, ...):
  an implementation of RFC 6455 written apart from the runtime;
- raw connections over a plain socket (`raw_open`, `raw_send`, `raw_recv`, `raw_until_close`, ...),
  whose frames ws_frames.py builds bit by bit, for what `websockets` refuses to send: unmasked
  frames, reserved opcodes and bits, bad UTF-8, bad close codes, oversized control frames.

Binary payloads travel as hex strings. Every wait has a timeout (seconds, `timeout` in the command).
"""
import asyncio
import base64
import hashlib
import inspect
import json
import os
import socket
import struct
import sys
import time

from ws_frames import RawConnection, build_frame

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFAULT_TIMEOUT = 5.0

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 0
library = {}   # id -> websockets ClientConnection
raw = {}       # id -> RawConnection


class Failure(Exception):
    """A command that could not do what it was asked; becomes {"ok": false, "error": ...}."""


def port_of(command):
    return int(command.get("port", PORT))


def timeout_of(command):
    return float(command.get("timeout", DEFAULT_TIMEOUT))


# MARK: Library connections (websockets)

def websockets_connect():
    from websockets.asyncio.client import connect
    return connect


def connect_options(command):
    connect = websockets_connect()
    options = {
        "compression": command.get("compression"),
        "open_timeout": timeout_of(command),
        # The tests count events: no pings of the client's own, and no waiting on a slow close.
        "ping_interval": None,
        "close_timeout": timeout_of(command),
        "max_size": command.get("max_size", 2 ** 24),
    }
    if command.get("subprotocols") is not None:
        options["subprotocols"] = command["subprotocols"]
    parameters = inspect.signature(connect.__init__).parameters
    if "proxy" in parameters:
        options["proxy"] = None  # never through an HTTP proxy from the environment
    return connect, options


def describe_response(connection):
    headers = connection.response.headers
    return {
        "status": connection.response.status_code,
        "subprotocol": connection.subprotocol,
        "extensions": headers.get("Sec-WebSocket-Extensions"),
        "headers": [[name, value] for name, value in headers.raw_items()],
    }


async def open_library(command, connection_id, path):
    from websockets.exceptions import InvalidStatus
    connect, options = connect_options(command)
    url = f"ws://127.0.0.1:{port_of(command)}{path}"
    try:
        connection = await connect(url, **options)
    except InvalidStatus as error:
        raise Failure(f"status {error.response.status_code}") from error
    library[connection_id] = connection
    return connection


async def op_connect(command):
    connection = await open_library(command, command["id"], command["path"])
    return describe_response(connection)


def expand(template, index, command):
    users = int(command.get("users", 1))
    return template.replace("{i}", str(index)).replace("{u}", str(index % users))


def ids_of(command):
    if "ids" in command:
        return list(command["ids"])
    return [f"{command['prefix']}{index}" for index in range(int(command["count"]))]


async def op_connect_many(command):
    """Opens `count` connections `<prefix><i>` to `path` ({i}: index, {u}: index % users), a few at a time."""
    limit = asyncio.Semaphore(int(command.get("parallel", 16)))

    async def one(index):
        async with limit:
            await open_library(command, f"{command['prefix']}{index}", expand(command["path"], index, command))

    await asyncio.wait_for(asyncio.gather(*(one(index) for index in range(int(command["count"])))),
                           timeout_of(command))
    return {"connected": int(command["count"])}


def payload_of(command):
    if "text" in command:
        return command["text"]
    if "hex" in command:
        return bytes.fromhex(command["hex"])
    if "fragments" in command:
        return list(command["fragments"])
    if "hex_fragments" in command:
        return [bytes.fromhex(piece) for piece in command["hex_fragments"]]
    raise Failure("send needs text, hex, fragments or hex_fragments")


async def op_send(command):
    await asyncio.wait_for(library[command["id"]].send(payload_of(command)), timeout_of(command))
    return {}


def describe_message(message):
    if isinstance(message, str):
        return {"text": message}
    return {"hex": message.hex()}


async def receive(connection_id, timeout):
    """The next message, or how the connection closed."""
    from websockets.exceptions import ConnectionClosed
    connection = library[connection_id]
    try:
        return describe_message(await asyncio.wait_for(connection.recv(), timeout))
    except ConnectionClosed as closed:
        return describe_closed(closed)
    except asyncio.TimeoutError:
        raise Failure(f"{connection_id}: nothing received within {timeout} s")


def describe_closed(closed):
    if closed.rcvd is None:
        return {"closed": True, "code": None, "reason": None}
    return {"closed": True, "code": closed.rcvd.code, "reason": closed.rcvd.reason}


async def op_recv(command):
    return await receive(command["id"], timeout_of(command))


async def op_recv_many(command):
    """One message from each connection, concurrently: {"messages": [text or hex or null, ...]} in id order."""
    ids = ids_of(command)
    timeout = timeout_of(command)
    received = await asyncio.gather(*(receive(connection_id, timeout) for connection_id in ids),
                                    return_exceptions=True)
    messages = []
    for result in received:
        if isinstance(result, Exception):
            messages.append(None)
        else:
            messages.append(result.get("text", result.get("hex")))
    return {"messages": messages}


async def op_exchange_many(command):
    """Sends `text` ({i} expanded) on each connection, then reads one reply from each."""
    ids = ids_of(command)
    timeout = timeout_of(command)

    async def one(index, connection_id):
        await library[connection_id].send(expand(command["text"], index, command))
        return await receive(connection_id, timeout)

    replies = await asyncio.gather(*(one(index, connection_id) for index, connection_id in enumerate(ids)),
                                   return_exceptions=True)
    return {"messages": [None if isinstance(reply, Exception) else reply.get("text", reply.get("hex"))
                         for reply in replies]}


async def op_ping(command):
    connection = library[command["id"]]
    started = time.monotonic()
    waiter = await connection.ping(bytes.fromhex(command.get("hex", "")))
    await asyncio.wait_for(waiter, timeout_of(command))
    return {"ms": (time.monotonic() - started) * 1000}


async def op_close(command):
    """Runs the close handshake from this side; returns the code and reason the server answered with."""
    connection = library[command["id"]]
    await asyncio.wait_for(connection.close(int(command.get("code", 1000)), command.get("reason", "")),
                           timeout_of(command))
    return {"code": connection.close_code, "reason": connection.close_reason}


async def op_wait_closed(command):
    """Reads until the server closes; returns its close code and reason and the messages before it."""
    from websockets.exceptions import ConnectionClosed
    connection = library[command["id"]]
    deadline = time.monotonic() + timeout_of(command)
    messages = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Failure(f"{command['id']}: still open after {timeout_of(command)} s")
        try:
            message = await asyncio.wait_for(connection.recv(), remaining)
            messages.append(describe_message(message))
        except ConnectionClosed as closed:
            await asyncio.wait_for(connection.wait_closed(), max(deadline - time.monotonic(), 0.1))
            result = describe_closed(closed)
            result["messages"] = messages
            return result
        except asyncio.TimeoutError:
            raise Failure(f"{command['id']}: still open after {timeout_of(command)} s")


async def op_wait_closed_many(command):
    """As wait_closed, for many connections at once: {"codes": [...]} in id order (null: not closed)."""
    ids = ids_of(command)

    async def one(connection_id):
        return await op_wait_closed({"id": connection_id, "timeout": timeout_of(command)})

    results = await asyncio.gather(*(one(connection_id) for connection_id in ids), return_exceptions=True)
    return {"codes": [None if isinstance(result, Exception) else result["code"] for result in results],
            "reasons": [None if isinstance(result, Exception) else result["reason"] for result in results]}


async def op_forget(command):
    """Drops a library connection without a close frame (the TCP connection just ends)."""
    connection = library.pop(command["id"])
    connection.transport.abort()
    return {}


# MARK: Raw connections

def build_frames(specs):
    return b"".join(build_frame(spec) for spec in specs)


async def op_raw_open(command):
    """Opens a raw connection and sends an upgrade request (a valid one unless told otherwise):
    `headers` are added (or, with a null value, left out), `key` replaces the random key, and `frames`
    go out in the same write, right behind the request. With `wait` false it returns without reading
    the response."""
    return await asyncio.to_thread(raw_open, command)


def raw_open(command):
    deadline = time.monotonic() + timeout_of(command)
    connection = RawConnection(port_of(command), timeout_of(command))
    key = command.get("key", base64.b64encode(os.urandom(16)).decode())
    headers = {"Host": f"127.0.0.1:{port_of(command)}", "Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    for name, value in command.get("headers", {}).items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    request = f"GET {command['path']} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    data = (request + "\r\n").encode("latin-1")
    data += build_frames(command.get("frames", []))
    connection.socket.sendall(data)
    raw[command["id"]] = connection
    if not command.get("wait", True):
        return {}
    status, response_headers = connection.read_head(deadline)
    accept = connection.header(response_headers, "Sec-WebSocket-Accept")
    expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    extensions = connection.header(response_headers, "Sec-WebSocket-Extensions")
    connection.deflate = extensions is not None and "permessage-deflate" in extensions
    return {"status": status, "headers": response_headers, "accept_ok": accept == expected,
            "extensions": extensions}


async def op_raw_http(command):
    """Sends `request` as it is on a new connection; returns the response and whether the server then
    closed the connection (within `close_timeout`, default 2 s)."""
    return await asyncio.to_thread(raw_http, command)


def raw_http(command):
    deadline = time.monotonic() + timeout_of(command)
    connection = RawConnection(port_of(command), timeout_of(command))
    try:
        connection.socket.sendall(command["request"].encode("latin-1"))
        status, headers = connection.read_head(deadline)
        length = int(connection.header(headers, "Content-Length") or 0)
        body = connection.read_exactly(length, deadline)
        closed = connection.at_eof(time.monotonic() + float(command.get("close_timeout", 2)))
        return {"status": status, "headers": headers, "body": body.decode("utf-8", "replace"), "closed": closed}
    finally:
        connection.socket.close()


async def op_raw_send(command):
    connection = raw[command["id"]]
    data = build_frames(command["frames"])
    await asyncio.to_thread(connection.socket.sendall, data)
    return {"bytes": len(data)}


async def op_raw_recv(command):
    connection = raw[command["id"]]
    deadline = time.monotonic() + timeout_of(command)
    try:
        return await asyncio.to_thread(connection.read_frame, deadline)
    except EOFError:
        return {"eof": True}
    except (socket.timeout, TimeoutError):
        raise Failure(f"{command['id']}: no frame within {timeout_of(command)} s")


async def op_raw_until_close(command):
    """Reads frames until the server's close frame, then waits for the server to end the TCP connection
    (without sending a close frame back): {"frames": [...before the close], "close": frame or null,
    "eof": bool}."""
    connection = raw[command["id"]]
    return await asyncio.to_thread(raw_until_close, connection, timeout_of(command))


def raw_until_close(connection, timeout):
    deadline = time.monotonic() + timeout
    frames = []
    try:
        while True:
            frame = connection.read_frame(deadline)
            if frame["opcode"] == 0x8:
                return {"frames": frames, "close": frame, "eof": connection.at_eof(deadline)}
            frames.append(frame)
    except EOFError:
        return {"frames": frames, "close": None, "eof": True}
    except (socket.timeout, TimeoutError):
        return {"frames": frames, "close": None, "eof": False}


async def op_raw_drop(command):
    """Ends a raw connection without a close frame: FIN, or RST with `reset`."""
    connection = raw.pop(command["id"])
    if command.get("reset"):
        connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.socket.close()
    return {}


# MARK: The command loop

OPERATIONS = {name[3:]: function for name, function in globals().items() if name.startswith("op_")}


async def shutdown():
    for connection in list(library.values()):
        connection.transport.abort()
    for connection in list(raw.values()):
        connection.socket.close()


async def main():
    loop = asyncio.get_running_loop()
    # Loaded before the first command, so a slow start shows up here and not as a slow first command.
    import websockets
    websockets_connect()
    reply({"ok": True, "ready": True, "websockets": websockets.__version__})
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command["op"] == "exit":
            await shutdown()
            reply({"ok": True})
            break
        try:
            operation = OPERATIONS[command["op"]]
            result = await operation(command)
            result["ok"] = True
        except Failure as failure:
            result = {"ok": False, "error": str(failure)}
        except Exception as error:  # reported to the test, which decides
            result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        reply(result)
    await shutdown()


def reply(result):
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


asyncio.run(main())
