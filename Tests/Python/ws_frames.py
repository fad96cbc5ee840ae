"""Frames and HTTP over a plain socket, for ws_driver.py: just enough of RFC 6455 to break its rules on
purpose (unmasked frames, reserved opcodes and bits, bad UTF-8, bad close codes, oversized control
frames), and to read what the server sends back, bit by bit."""
import os
import socket
import struct
import time
import zlib


class RawConnection:
    """A plain socket that speaks just enough HTTP and RFC 6455 to break the rules on purpose."""

    def __init__(self, port, timeout):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.deflate = False

    def fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.socket.settimeout(remaining)
        try:
            chunk = self.socket.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise EOFError()
        self.buffer += chunk

    def read_exactly(self, count, deadline):
        while len(self.buffer) < count:
            self.fill(deadline)
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_head(self, deadline):
        while b"\r\n\r\n" not in self.buffer:
            self.fill(deadline)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append([name.strip(), value.strip()])
        return int(parts[1]), headers

    def header(self, headers, name):
        for key, value in headers:
            if key.lower() == name.lower():
                return value
        return None

    def read_frame(self, deadline):
        first, second = self.read_exactly(2, deadline)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self.read_exactly(2, deadline))[0]
        elif length == 127:
            length = struct.unpack("!Q", self.read_exactly(8, deadline))[0]
        key = self.read_exactly(4, deadline) if second & 0x80 else None
        payload = self.read_exactly(length, deadline)
        if key:
            payload = bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))
        frame = {"fin": bool(first & 0x80), "rsv": (first >> 4) & 7, "opcode": first & 0x0F,
                 "masked": key is not None, "length": length, "hex": payload.hex()}
        if first & 0x40 and self.deflate:
            inflated = zlib.decompressobj(wbits=-15).decompress(payload + b"\x00\x00\xff\xff")
            frame["inflated_hex"] = inflated.hex()
            payload = inflated
        if frame["opcode"] == 0x1:
            frame["text"] = payload.decode("utf-8", "replace")
        if frame["opcode"] == 0x8:
            if len(payload) >= 2:
                frame["code"] = struct.unpack("!H", payload[:2])[0]
                frame["reason"] = payload[2:].decode("utf-8", "replace")
            else:
                frame["code"] = None
                frame["reason"] = ""
        return frame

    def at_eof(self, deadline):
        """True when the server ends the connection before the deadline (extra bytes are discarded)."""
        try:
            while True:
                self.buffer = b""
                self.fill(deadline)
        except EOFError:
            return True
        except (socket.timeout, TimeoutError):
            return False


def build_frame(spec):
    """Bytes of one frame from a spec: opcode, fin, rsv (bits, RSV1 = 4), mask, payload (hex or text),
    `compress` (deflate the payload, set RSV1), or `raw` (hex bytes sent as they are)."""
    if "raw" in spec:
        return bytes.fromhex(spec["raw"])
    payload = spec["text"].encode("utf-8") if "text" in spec else bytes.fromhex(spec.get("hex", ""))
    if "repeat" in spec:
        payload = payload * int(spec["repeat"])
    rsv = int(spec.get("rsv", 0))
    if spec.get("compress"):
        compressor = zlib.compressobj(wbits=-15)
        payload = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert payload.endswith(b"\x00\x00\xff\xff")
        payload = payload[:-4]
        rsv |= 4
    first = (0x80 if spec.get("fin", True) else 0) | (rsv << 4) | int(spec["opcode"])
    masked = spec.get("mask", True)
    length = len(payload)
    if length < 126:
        header = bytes([first, (0x80 if masked else 0) | length])
    elif length < 65536:
        header = bytes([first, (0x80 if masked else 0) | 126]) + struct.pack("!H", length)
    else:
        header = bytes([first, (0x80 if masked else 0) | 127]) + struct.pack("!Q", length)
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))
