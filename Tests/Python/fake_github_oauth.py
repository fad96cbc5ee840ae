"""A local fake of GitHub's OAuth web flow and the user endpoints the web app reads.

Usage: fake_github_oauth.py CLIENT_ID CLIENT_SECRET
Prints "port N" once listening on 127.0.0.1, then serves until stdin closes.

  GET  /login/oauth/authorize?client_id&redirect_uri&scope&state
       a consent page with a login field (what a person would type on github.com), 400 for an unknown client
  POST /login/oauth/authorize   (form: login, email?, client_id, redirect_uri, state)
       302 to redirect_uri?code=...&state=...
  POST /login/oauth/access_token (form: client_id, client_secret, code, redirect_uri; Accept: application/json)
       {access_token, token_type, scope}, or GitHub's 200 {error: "bad_verification_code"} for a wrong or reused code
  GET  /user, /user/emails       need `Authorization: Bearer <access token>`; the signed-in login's profile
  GET  /user/orgs                the organizations typed on the consent page (form field orgs, comma-separated),
                                 as GitHub does only when the token has read:org (else [])
  GET  /_calls                   every call so far as JSON [{method, path, query, form}]
"""
import html
import json
import secrets
import sys
import threading
from fake_http import JSONHandler, serve_until_stdin_closes
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID, CLIENT_SECRET = sys.argv[1], sys.argv[2]
lock = threading.Lock()
calls = []
codes = {}    # code -> {login, email, redirect_uri, scope}
tokens = {}   # access token -> {login, email, scope}
user_ids = {}


def user_id(login):
    with lock:
        return user_ids.setdefault(login, 1000 + len(user_ids))


class Handler(JSONHandler):

    def send(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if content_type == "application/json" else body.encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        auth = self.headers.get("Authorization", "")
        if url.path != "/_calls":
            with lock:
                calls.append({"method": method, "path": url.path, "query": query,
                              "form": {k: v for k, v in form.items() if k != "client_secret"}})
        if url.path == "/_calls":
            with lock:
                return self.send(200, list(calls))

        if url.path == "/login/oauth/authorize" and method == "GET":
            if query.get("client_id") != CLIENT_ID:
                return self.send(400, "unknown client_id", "text/plain")
            fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                             for k, v in query.items() if k in ("client_id", "redirect_uri", "state", "scope"))
            page = f"""<!doctype html><title>Authorize (fake GitHub)</title>
<h1>Fake GitHub: authorize the app</h1><p>Scopes: {html.escape(query.get('scope', ''))}</p>
<form method="post" action="/login/oauth/authorize">{fields}
<label>Login <input id="login" name="login"></label>
<label>Email <input id="email" name="email"></label>
<label>Organizations <input id="orgs" name="orgs"></label>
<button id="authorize" type="submit">Authorize</button></form>"""
            return self.send(200, page, "text/html; charset=utf-8")

        if url.path == "/login/oauth/authorize" and method == "POST":
            login = form.get("login", "").strip()
            if not login or form.get("client_id") != CLIENT_ID:
                return self.send(400, "login and client_id are required", "text/plain")
            code = secrets.token_hex(10)
            with lock:
                codes[code] = {"login": login, "email": form.get("email") or f"{login}@example.com",
                               "orgs": [o.strip() for o in form.get("orgs", "").split(",") if o.strip()],
                               "redirect_uri": form.get("redirect_uri", ""), "scope": form.get("scope", "")}
            target = form.get("redirect_uri", "") + "?" + urlencode({"code": code, "state": form.get("state", "")})
            return self.send(302, b"", "text/plain", headers=[("Location", target)])

        if url.path == "/login/oauth/access_token" and method == "POST":
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return self.send(200, {"error": "incorrect_client_credentials"})
            with lock:
                grant = codes.pop(form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return self.send(200, {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
            token = "gho_" + secrets.token_hex(16)
            with lock:
                tokens[token] = grant
            return self.send(200, {"access_token": token, "token_type": "bearer", "scope": grant["scope"]})

        grant = tokens.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
        if url.path == "/user/orgs" and method == "GET":
            if grant is None:
                return self.send(401, {"message": "Bad credentials"})
            visible = grant["orgs"] if "read:org" in grant["scope"].split() else []
            return self.send(200, [{"login": org, "id": 5000 + index} for index, org in enumerate(visible)])
        if url.path in ("/user", "/user/emails") and method == "GET":
            if grant is None:
                return self.send(401, {"message": "Bad credentials"})
            login = grant["login"]
            if url.path == "/user":
                return self.send(200, {"login": login, "id": user_id(login), "name": login.capitalize(), "email": None,
                                       "avatar_url": ""})
            return self.send(200, [{"email": grant["email"], "primary": True, "verified": True, "visibility": "private"}])
        return self.send(404, {"message": "Not Found"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


serve_until_stdin_closes(Handler)
