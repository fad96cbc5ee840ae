"""A local fake of the Anthropic Messages API, with a scriptable answer.

Usage: fake_anthropic.py API_KEY
Prints "port N" once listening on 127.0.0.1, then serves until stdin closes.

  POST /v1/messages  needs `x-api-key: API_KEY` and `anthropic-version: 2023-06-01` (else 401 / 400 in
                     the API's error shape); answers a `message` whose one text block is the scripted
                     text: {id, type:"message", role:"assistant", model, content:[{type:"text", text}],
                     stop_reason:"end_turn", usage}
  POST /_answer      {text}: what the next answers say (default: prose that is not JSON);
                     {status}: answer that HTTP status with an API error instead
  GET  /_calls       every /v1/messages call so far: [{headers:{x-api-key, anthropic-version,
                     content-type}, body}]
"""
import json
import sys
import threading
from fake_http import JSONHandler, serve_until_stdin_closes

API_KEY = sys.argv[1]
lock = threading.Lock()
calls = []
script = {"text": "I am fairly sure it is the widgets one, but I would not bet on it!"}
ids = iter(range(1, 1_000_000))


class Handler(JSONHandler):

    def error(self, status, kind, message):
        self.reply(status, {"type": "error", "error": {"type": kind, "message": message}})

    def do_GET(self):
        if self.path == "/_calls":
            with lock:
                return self.reply(200, calls)
        self.error(404, "not_found_error", "Not found")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path == "/_answer":
            with lock:
                script.clear()
                script.update(json.loads(raw))
            return self.reply(200, {"ok": True})
        if self.path != "/v1/messages":
            return self.error(404, "not_found_error", "Not found")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {name: self.headers.get(name) for name in ("x-api-key", "anthropic-version", "content-type")}
        with lock:
            calls.append({"headers": headers, "body": body})
            current = dict(script)
        if headers["x-api-key"] != API_KEY:
            return self.error(401, "authentication_error", "invalid x-api-key")
        if headers["anthropic-version"] != "2023-06-01":
            return self.error(400, "invalid_request_error", "anthropic-version: unsupported")
        if not isinstance(body, dict) or not body.get("messages") or not body.get("max_tokens"):
            return self.error(400, "invalid_request_error", "messages and max_tokens are required")
        if "status" in current:
            return self.error(int(current["status"]), "api_error", "scripted failure")
        text = current.get("text", "")
        self.reply(200, {"id": f"msg_fake{next(ids)}", "type": "message", "role": "assistant", "model": body.get("model"),
                         "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                         "usage": {"input_tokens": 100, "output_tokens": len(text.split())}})


serve_until_stdin_closes(Handler)
