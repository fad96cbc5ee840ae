"""A local fake of the Slack Web API methods the Dispatch Slack bot calls, in Slack's wire format.

Usage: fake_slack.py BOT_TOKEN
Prints "port N" once listening on 127.0.0.1, then serves until stdin closes.

  POST /api/{method}   JSON (application/json) or form (application/x-www-form-urlencoded) bodies, as
                       Slack takes them; needs `Authorization: Bearer BOT_TOKEN`, else {ok:false,
                       error:"invalid_auth"} (HTTP 200, like Slack). Methods:
                         chat.postMessage      {channel, text|blocks, thread_ts?} -> {ok, channel, ts, message}
                         chat.update           {channel, ts, text|blocks}         -> {ok, channel, ts, text}
                         conversations.info    channel                            -> {ok, channel:{id, name, topic, purpose}}
                         conversations.replies channel, ts, limit                 -> {ok, messages:[...]} (seeded + posted)
                         views.publish         {user_id, view}                    -> {ok, view}
                       any other method: {ok:false, error:"unknown_method"}
  POST /_ratelimit     {method, retry_after}: the next call of that method answers HTTP 429 with
                       Retry-After: retry_after (once)
  POST /_fail          {method, error}: the next call of that method answers {ok:false, error} (once)
  POST /_channel       {id, name, topic?, purpose?}: what conversations.info answers for that channel
  POST /_thread        {channel, ts, messages:[{ts, text, user?|bot_id?}]}: earlier messages of a thread
  GET  /_calls         every API call so far: [{method, status, auth, content_type, body, time, answer}]
"""
import json
import sys
import threading
import time
from fake_http import JSONHandler, serve_until_stdin_closes
from urllib.parse import parse_qs

BOT_TOKEN = sys.argv[1]
lock = threading.Lock()
calls = []
rate_limits = {}     # method -> Retry-After seconds, for its next call only
failures = {}        # method -> error, for its next call only
channels = {}        # id -> {name, topic, purpose}
threads = {}         # (channel, thread ts) -> [message]
counter = iter(range(1, 1_000_000))
BASE_TS = int(time.time())


def next_ts():
    return f"{BASE_TS}.{next(counter):06d}"


class Handler(JSONHandler):
    json_content_type = "application/json; charset=utf-8"

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            return json.loads(raw or b"{}")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return {name: values[0] for name, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
        return {"_raw": raw.decode(errors="replace")}

    def do_GET(self):
        if self.path == "/_calls":
            with lock:
                return self.reply(200, calls)
        self.reply(404, {"ok": False, "error": "not_found"})

    def do_POST(self):
        body = self.read_body()
        if self.path == "/_ratelimit":
            with lock:
                rate_limits[body["method"]] = int(body.get("retry_after", 1))
            return self.reply(200, {"ok": True})
        if self.path == "/_fail":
            with lock:
                failures[body["method"]] = body["error"]
            return self.reply(200, {"ok": True})
        if self.path == "/_channel":
            with lock:
                channels[body["id"]] = body
            return self.reply(200, {"ok": True})
        if self.path == "/_thread":
            with lock:
                threads.setdefault((body["channel"], body["ts"]), []).extend(body["messages"])
            return self.reply(200, {"ok": True})
        if not self.path.startswith("/api/"):
            return self.reply(404, {"ok": False, "error": "not_found"})
        method = self.path[len("/api/"):].split("?")[0]
        record = {"method": method, "auth": self.headers.get("Authorization", ""),
                  "content_type": self.headers.get("Content-Type", ""), "body": body, "time": time.time()}
        with lock:
            retry_after = rate_limits.pop(method, None)
            record["status"] = 429 if retry_after is not None else 200
            calls.append(record)
        if retry_after is not None:
            return self.reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        with lock:
            failure = failures.pop(method, None)
        if failure is not None:
            answer = {"ok": False, "error": failure}
        elif record["auth"] != f"Bearer {BOT_TOKEN}":
            answer = {"ok": False, "error": "invalid_auth"}
        else:
            answer = self.answer(method, body)
        with lock:
            record["answer"] = answer
        self.reply(200, answer)

    def answer(self, method, body):
        if method == "chat.postMessage":
            if not body.get("channel") or not (body.get("text") or body.get("blocks")):
                return {"ok": False, "error": "no_text"}
            ts = next_ts()
            message = {"type": "message", "text": body.get("text", ""), "ts": ts, "bot_id": "BFAKE"}
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
                with lock:
                    threads.setdefault((body["channel"], body["thread_ts"]), []).append(message)
            return {"ok": True, "channel": body["channel"], "ts": ts, "message": message}
        if method == "chat.update":
            if not body.get("channel") or not body.get("ts"):
                return {"ok": False, "error": "cant_update_message"}
            return {"ok": True, "channel": body["channel"], "ts": body["ts"], "text": body.get("text", "")}
        if method == "conversations.info":
            channel = body.get("channel")
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            with lock:
                known = channels.get(channel, {})
            return {"ok": True, "channel": {"id": channel, "name": known.get("name", "general"),
                                            "topic": {"value": known.get("topic", "")},
                                            "purpose": {"value": known.get("purpose", "")}}}
        if method == "conversations.replies":
            key = (body.get("channel"), body.get("ts"))
            with lock:
                messages = [{"ts": key[1], "text": "(thread start)", "user": "UTHREAD"}] + list(threads.get(key, []))
            return {"ok": True, "messages": messages[: int(body.get("limit") or 1000)], "has_more": False}
        if method == "views.publish":
            if not body.get("user_id") or not isinstance(body.get("view"), dict):
                return {"ok": False, "error": "invalid_arguments"}
            return {"ok": True, "view": dict(body["view"], id="VFAKE")}
        return {"ok": False, "error": "unknown_method"}


serve_until_stdin_closes(Handler)
