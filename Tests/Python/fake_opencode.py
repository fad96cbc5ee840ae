"""A fake `opencode serve` for the bridge tests, on Python's http.server: the routes the bridge uses, with
events in OpenCode's SSE format (`data: {json}` and a blank line) and turns scripted per test.

    python3 fake_opencode.py [--existing-session ID]

Prints "port N" once listening on 127.0.0.1, then one JSON object per line on stdout for each request:
    {"event": "request", "method": ..., "path": ..., "body": ..., "subscribers": n}
and {"event": "subscribed"|"unsubscribed", "subscribers": n} as `GET /event` streams come and go. A prompt's
text names its script: "scenario:<name>" (see SCENARIOS). Exits when stdin closes.
"""
import argparse
import json
import queue
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

output_lock = threading.Lock()
state_lock = threading.Lock()
subscribers = []
sessions = set()
messages = {}          # session id -> the list GET /session/{id}/message returns
aborts = {}            # session id -> threading.Event
replies = {}           # question id -> threading.Event
session_counter = [0]


def record(**fields):
    with output_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def emit(type_, **properties):
    """Sends one event to every open /event stream."""
    data = json.dumps({"type": type_, "properties": properties})
    with state_lock:
        targets = list(subscribers)
    for target in targets:
        target.put(data)


def abort_event(session):
    with state_lock:
        return aborts.setdefault(session, threading.Event())


def reply_event(question):
    with state_lock:
        return replies.setdefault(question, threading.Event())


def part(session, message, part_id, type_, **fields):
    return dict(id=part_id, sessionID=session, messageID=message, type=type_, **fields)


def begin(session, user, assistant="msg_assistant_1"):
    emit("session.status", sessionID=session, status={"type": "busy"})
    emit("message.updated", info={"id": user, "sessionID": session, "role": "user"})
    emit("message.updated", info={"id": assistant, "sessionID": session, "role": "assistant", "parentID": user})
    return assistant


def finish(session, user, assistant, texts):
    with state_lock:
        messages[session] = [
            {"info": {"id": user, "sessionID": session, "role": "user"},
             "parts": [{"id": "prt_user", "type": "text", "text": "the prompt"}]},
            {"info": {"id": assistant, "sessionID": session, "role": "assistant", "parentID": user},
             "parts": [{"id": part_id, "type": "text", "text": text} for part_id, text in texts]},
        ]
    emit("session.status", sessionID=session, status={"type": "idle"})
    emit("session.idle", sessionID=session)


def scenario_happy(session, user):
    # A leftover idle from before this turn must not end it.
    emit("session.idle", sessionID=session)
    a = begin(session, user)
    # Not ours: another user message's reply, and another session.
    emit("message.updated", info={"id": "msg_other", "sessionID": session, "role": "assistant", "parentID": "msg_elsewhere"})
    emit("message.part.updated", part=part(session, "msg_other", "prt_other", "text", text="NOT OURS"))
    emit("message.part.updated", part=part("ses_other", a, "prt_x", "text", text="OTHER SESSION"))
    emit("message.part.updated", part=part(session, a, "prt_step1", "step-start"))
    emit("message.part.updated", part=part(session, a, "prt_text1", "text", text="Hel"), delta="Hel")
    emit("message.part.updated", part=part(session, a, "prt_text1", "text", text="Hello"), delta="lo")
    emit("message.part.updated", part=part(session, a, "prt_tool1", "tool", callID="call_1", tool="bash",
                                           state={"status": "completed", "input": {"command": "npm run dev"},
                                                  "output": "ready on http://localhost:3000\n"}))
    emit("message.part.updated", part=part(session, a, "prt_tool2", "tool", callID="call_2", tool="bash",
                                           state={"status": "completed", "input": {"command": "curl"},
                                                  "output": "localhost:3000 and 127.0.0.1:8080 and localhost:80"}))
    emit("message.part.updated", part=part(session, a, "prt_step2", "step-finish", cost=0.25,
                                           tokens={"input": 10, "output": 5}, reason="stop"))
    emit("session.updated", info={"id": session, "title": "Fix the bug"})
    emit("session.updated", info={"id": session, "title": "Fix the bug"})
    finish(session, user, a, [("prt_text1", "Hello world")])


def scenario_tools(session, user):
    a = begin(session, user)
    def tool(call, name, status, part_id=None, **state):
        emit("message.part.updated", part=part(session, a, part_id or "prt_" + call, "tool", callID=call, tool=name,
                                               state=dict(status=status, **state)))
    tool("call_a", "read", "pending", input={})                    # skipped: no input yet
    tool("call_a", "read", "pending", input={"filePath": "/x"})
    tool("call_a", "read", "running", input={"filePath": "/x"})
    tool("call_a", "read", "running", input={"filePath": "/x"})    # duplicate
    tool("call_a", "read", "running", input={"filePath": "/x"})    # duplicate
    tool("call_a", "read", "completed", input={"filePath": "/x"}, output="contents")
    tool("call_a", "read", "completed", input={"filePath": "/x"}, output="contents")  # duplicate
    tool("call_b", "edit", "running", input={"filePath": "/y"})
    tool("call_b", "edit", "error", input={"filePath": "/y"}, error="no such file")
    for count in (1, 1, 2):
        summary = [{"id": f"s{index}", "tool": "read", "state": {"status": "completed"}} for index in range(count)]
        tool("call_t", "task", "running", input={"prompt": "sub"}, metadata={"summary": summary})
    finish(session, user, a, [])


def scenario_error(session, user):
    a = begin(session, user)
    emit("message.part.updated", part=part(session, a, "prt_e1", "text", text="Trying"))
    emit("session.error", sessionID=session, error={"name": "ProviderAuthError", "data": {"message": "invalid API key"}})
    emit("session.idle", sessionID=session)


def scenario_hang(session, user):
    a = begin(session, user)
    emit("message.part.updated", part=part(session, a, "prt_h1", "text", text="Working"))
    emit("message.part.updated", part=part(session, a, "prt_h2", "tool", callID="call_h", tool="bash",
                                           state={"status": "running", "input": {"command": "sleep 1000"}}))
    if abort_event(session).wait(60):
        abort_event(session).clear()
        emit("message.part.updated", part=part(session, a, "prt_h1", "text", text="Working AFTER ABORT"))
        emit("session.error", sessionID=session, error={"name": "MessageAbortedError", "data": {"message": "aborted"}})
        emit("session.idle", sessionID=session)


def scenario_question(session, user):
    a = begin(session, user)
    asked = {"questions": [{"question": "Proceed?", "options": [{"label": "Yes"}, {"label": "No"}]}]}
    emit("message.part.updated", part=part(session, a, "prt_q", "tool", callID="call_q", tool="question",
                                           state={"status": "running", "input": asked}))
    emit("question.asked", id="que_1", sessionID=session, questions=asked["questions"],
         tool={"messageID": a, "callID": "call_q"})
    if not reply_event("que_1").wait(60):
        return
    emit("message.part.updated", part=part(session, a, "prt_q", "tool", callID="call_q", tool="question",
                                           state={"status": "completed", "input": asked, "output": "Yes"}))
    emit("message.part.updated", part=part(session, a, "prt_done", "text", text="Thanks, done"))
    finish(session, user, a, [("prt_done", "Thanks, done")])


def scenario_quick(session, user):
    a = begin(session, user)
    emit("message.part.updated", part=part(session, a, "prt_quick", "text", text="ok"))
    finish(session, user, a, [("prt_quick", "ok")])


SCENARIOS = {
    "happy": scenario_happy,
    "tools": scenario_tools,
    "error": scenario_error,
    "hang": scenario_hang,
    "question": scenario_question,
    "quick": scenario_quick,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *arguments):
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def answer(self, status, value=None):
        data = b"" if value is None else json.dumps(value).encode()
        self.send_response(status)
        if value is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        path = urlsplit(self.path).path
        body = self.body() if method == "POST" else None
        with state_lock:
            count = len(subscribers)
        record(event="request", method=method, path=path, query=urlsplit(self.path).query, body=body, subscribers=count)
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/event":
            return self.stream()
        if method == "POST" and path == "/session":
            with state_lock:
                session_counter[0] += 1
                session = f"ses_fake{session_counter[0]}"
                sessions.add(session)
            return self.answer(200, {"id": session, "title": "New session"})
        if len(parts) == 2 and parts[0] == "session" and method == "GET":
            with state_lock:
                known = parts[1] in sessions
            return self.answer(200, {"id": parts[1]}) if known else self.answer(404, {"error": "not found"})
        if len(parts) == 3 and parts[0] == "session":
            session, action = parts[1], parts[2]
            if action == "prompt_async" and method == "POST":
                text = (body or {}).get("parts", [{}])[0].get("text", "")
                name = text.split(":", 1)[1] if text.startswith("scenario:") else "quick"
                user = (body or {}).get("messageID", "msg_missing")
                self.answer(204)
                threading.Thread(target=SCENARIOS[name], args=(session, user), daemon=True).start()
                return
            if action == "abort" and method == "POST":
                abort_event(session).set()
                return self.answer(200, True)
            if action == "message" and method == "GET":
                with state_lock:
                    return self.answer(200, messages.get(session, []))
        if len(parts) == 3 and parts[0] == "question" and parts[2] == "reply" and method == "POST":
            reply_event(parts[1]).set()
            return self.answer(200, True)
        self.answer(404, {"error": f"no route {method} {path}"})

    def stream(self):
        events = queue.Queue()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # Like OpenCode, the stream joins the bus only after its head went out, then says server.connected:
        # events published in between are not seen by this stream.
        with state_lock:
            subscribers.append(events)
            count = len(subscribers)
        record(event="subscribed", subscribers=count)
        events.put(json.dumps({"type": "server.connected", "properties": {}}))
        try:
            while True:
                try:
                    data = events.get(timeout=0.5)
                except queue.Empty:
                    data = None
                # A comment line now and then, so a closed stream is noticed.
                chunk = (f"data: {data}\n\n" if data is not None else ": keepalive\n\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            with state_lock:
                subscribers.remove(events)
                count = len(subscribers)
            record(event="unsubscribed", subscribers=count)
            self.close_connection = True

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--existing-session")
    arguments = parser.parse_args()
    if arguments.existing_session:
        sessions.add(arguments.existing_session)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


main()
