"""A local fake of the GitHub REST API parts Dispatch uses, speaking GitHub's JSON shapes.

Usage: fake_github.py PUBLIC_KEY_PEM APP_ID INSTALLATION_ID
Prints "port N" once listening on 127.0.0.1, then serves until stdin closes.

  POST /app/installations/{id}/access_tokens  needs `Authorization: Bearer <RS256 JWT>` whose signature
                                              verifies with PUBLIC_KEY_PEM and whose iss is APP_ID; answers
                                              201 {token, expires_at} (the token starts "ghs_")
  GET  /installation/repositories             needs an installation token; two repositories
  GET  /repos/{o}/{r}                         needs any token; {name, full_name, default_branch: "main", ...}
  POST /repos/{o}/{r}/pulls                   needs a user token (not an installation token); 201 {number,
                                              html_url, state: "open", head, base}; 422 when head == base
  GET  /_calls                                every call so far as JSON [{method, path, auth, body}]
"""
import base64
import json
import sys
import threading
import time
from fake_http import JSONHandler, serve_until_stdin_closes

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PUBLIC_KEY = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
APP_ID = sys.argv[2]
INSTALLATION_ID = sys.argv[3]
calls = []
issued_installation_tokens = set()
lock = threading.Lock()
pull_numbers = iter(range(1, 10_000))


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_jwt(token):
    try:
        header, payload, signature = token.split(".")
        PUBLIC_KEY.verify(b64url_decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        claims = json.loads(b64url_decode(payload))
        now = time.time()
        return (json.loads(b64url_decode(header)).get("alg") == "RS256" and str(claims.get("iss")) == APP_ID
                and claims["iat"] <= now + 5 and claims["exp"] > now and claims["exp"] - claims["iat"] <= 700)
    except Exception:
        return False


class Handler(JSONHandler):

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        path = self.path.split("?")[0]
        if path != "/_calls":
            with lock:
                calls.append({"method": method, "path": self.path, "auth": auth, "body": body})
        parts = path.strip("/").split("/")
        if path == "/_calls":
            with lock:
                return self.reply(200, calls)
        if self.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            return self.reply(400, {"message": "missing X-GitHub-Api-Version"})
        if method == "POST" and parts[:2] == ["app", "installations"] and parts[3:] == ["access_tokens"]:
            if parts[2] != INSTALLATION_ID:
                return self.reply(404, {"message": "Not Found"})
            if not verify_jwt(token):
                return self.reply(401, {"message": "A JSON web token could not be decoded"})
            minted = "ghs_" + base64.b16encode(threading.get_ident().to_bytes(8, "big")).decode() + str(len(calls))
            with lock:
                issued_installation_tokens.add(minted)
            return self.reply(201, {"token": minted, "expires_at": "2099-01-01T00:00:00Z"})
        if not token:
            return self.reply(401, {"message": "Requires authentication"})
        if method == "GET" and path == "/installation/repositories":
            if token not in issued_installation_tokens:
                return self.reply(401, {"message": "Bad credentials"})
            repos = [{"id": 1, "name": "widgets", "full_name": "acme/widgets", "owner": {"login": "acme"},
                      "description": "Widgets", "private": True, "default_branch": "main"},
                     {"id": 2, "name": "gadgets", "full_name": "acme/gadgets", "owner": {"login": "acme"},
                      "description": None, "private": False, "default_branch": "trunk"}]
            return self.reply(200, {"total_count": len(repos), "repositories": repos})
        if method == "GET" and len(parts) == 3 and parts[0] == "repos":
            return self.reply(200, {"name": parts[2], "full_name": f"{parts[1]}/{parts[2]}", "default_branch": "main",
                                    "owner": {"login": parts[1]},
                                    "html_url": f"https://github.example/{parts[1]}/{parts[2]}"})
        if method == "POST" and len(parts) == 4 and parts[0] == "repos" and parts[3] == "pulls":
            if token in issued_installation_tokens:
                return self.reply(403, {"message": "pull requests must be opened with the user's token here"})
            if not body or not body.get("title") or not body.get("head") or not body.get("base"):
                return self.reply(422, {"message": "Validation Failed"})
            if body["head"] == body["base"]:
                return self.reply(422, {"message": "head and base are the same"})
            number = next(pull_numbers)
            return self.reply(201, {"number": number, "state": "open", "head": {"ref": body["head"]},
                                    "base": {"ref": body["base"]},
                                    "html_url": f"https://github.example/{parts[1]}/{parts[2]}/pull/{number}"})
        return self.reply(404, {"message": "Not Found"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


serve_until_stdin_closes(Handler)
