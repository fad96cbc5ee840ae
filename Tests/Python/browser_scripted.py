"""The session page's interactive parts in headless Chromium, with this script playing the sandbox.

Usage: browser_scripted.py --runtime URL --screenshots DIR
The control plane's sandbox provider must start a process that only sleeps (BRIDGE_PATH a sleeper),
and the web app must sign in through the fake GitHub OAuth server (fake_github_oauth.py).

The browser reaches the runtime through a TCP proxy this script runs, so it can cut the browser's
connections without a close frame. Steps, each checked ("FAIL: ..." and exit 1 on the first failure):
  1. alice signs in, creates a session; the page's pre-warm spawns the sandbox; this script finds the
     sandbox process's credentials in /proc and connects as its bridge; the composer turns on
  2. a prompt reaches the sandbox with the model picked in the composer; a question tool call shows a card; choosing an option and Answer
     sends question_answer, which arrives at the sandbox as question_reply with that answer
  3. two calls of one tool in a row are grouped as one "×2" group
  3b. tools are described by kind (a Bash command, an edit's +/- lines, a ranged Read) with their output
     folded under them; the Tasks panel shows the latest TodoWrite list and the Files changed panel the
     completed edits and writes (a failed edit not counted, a repeated status not counted twice); the
     Session panel links the repository and says when the session was created
  4. a `branch` artifact shows "Open a pull request" (GitHub's compare page); one of type pr then
     replaces it with the "View pull request" link
  5. a follow-up sent while the prompt runs is queued (the page says so) and reaches the sandbox only
     after Stop ends the first prompt; Stop sends stop to the sandbox
  6. the proxy cuts the browser's WebSocket: the page shows it, reconnects by itself, subscribes
     again and replays the history (the PR link, the question card, the tasks and files are back)
"""
import argparse
import json
import os
import select
import socket
import sys
import threading
import time
import warnings
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait
from websockets.sync.client import connect as ws_connect

parser = argparse.ArgumentParser()
parser.add_argument("--runtime", required=True)
parser.add_argument("--screenshots", required=True)
parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
parser.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
args = parser.parse_args()
# websockets' sync client warns about not being used as a context manager; it is closed at the end.
warnings.filterwarnings("ignore", category=DeprecationWarning)
target = urlsplit(args.runtime)
driver = None


class Proxy:
    """A TCP proxy to the runtime whose open connections can be cut at once (no close frames)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            upstream = socket.create_connection((target.hostname, target.port))
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self.pump, args=(client, upstream), daemon=True).start()

    def pump(self, a, b):
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [])
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (b if source is a else a).sendall(data)
        except OSError:
            for each in (a, b):
                try:
                    each.close()
                except OSError:
                    pass

    def cut(self):
        """Resets every open connection (SO_LINGER 0: an RST, no FIN, no close frame)."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for client, upstream in pairs:
            for each in (client, upstream):
                try:
                    each.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    each.shutdown(socket.SHUT_RDWR)
                    each.close()
                except OSError:
                    pass


def fail(message):
    print(f"FAIL: {message}", flush=True)
    if driver:
        try:
            driver.save_screenshot(os.path.join(args.screenshots, "failure-scripted.png"))
            print(f"  browser at {driver.current_url}", flush=True)
            for entry in driver.get_log("browser")[-20:]:
                print(f"  console: {entry.get('message')}", flush=True)
        except WebDriverException:
            pass
        driver.quit()
    sys.exit(1)


def wait(condition, what, seconds=30):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1,
                             # A page that is being replaced can drop the element being read
                             # ("Node ... does not belong to the document"): poll again.
                             ignored_exceptions=(WebDriverException,)).until(lambda d: condition(d))
    except TimeoutException:
        fail(f"timed out after {seconds} s waiting for {what}")


def text_of(selector):
    return " ".join(element.text for element in driver.find_elements(By.CSS_SELECTOR, selector))


def wait_equal(get, expected, what, seconds=30):
    """Waits until get() == expected; on timeout the failure shows what get() last gave."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if (last := get()) == expected:
            return
        time.sleep(0.1)
    fail(f"timed out after {seconds} s waiting for {what}: expected {expected!r}, got {last!r}")


def content_of(selector):
    """Like text_of, but also for elements inside folded <details> (which have no rendered text)."""
    return " ".join(element.get_attribute("textContent") for element in driver.find_elements(By.CSS_SELECTOR, selector))


def sandbox_environment(session_id, seconds=30):
    """The environment of the sandbox process the provider started for this session."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                raw = open(f"/proc/{pid}/environ", "rb").read()
                command = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"sleep" not in command:
                continue
            env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
            if env.get("SESSION_ID") == session_id and env.get("SANDBOX_AUTH_TOKEN"):
                return env
        time.sleep(0.1)
    fail("the provider never started the session's sandbox process")


class Sandbox:
    """This script as the session's bridge (reference §1.8)."""

    def __init__(self, env):
        url = env["CONTROL_PLANE_URL"].replace("http://", "ws://", 1) + f"/sessions/{env['SESSION_ID']}/ws?type=sandbox"
        self.socket = ws_connect(url, additional_headers={"Authorization": f"Bearer {env['SANDBOX_AUTH_TOKEN']}",
                                                          "X-Sandbox-ID": env["SANDBOX_ID"]})

    def send(self, message):
        self.socket.send(json.dumps(message))

    def expect(self, kind, seconds=20):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.time())))
            except TimeoutError:
                break
            if message.get("type") == kind:
                return message
        fail(f"the sandbox never received {kind}")


proxy = Proxy()
base = f"http://127.0.0.1:{proxy.port}"
options = webdriver.ChromeOptions()
options.binary_location = args.chromium
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1360,900"):
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)

# 1. sign in, a session, the sandbox connects
driver.get(base + "/sign-in")
driver.find_element(By.ID, "sign-in-github").click()
wait(lambda d: d.find_elements(By.ID, "login"), "the fake GitHub consent page")
driver.find_element(By.ID, "login").send_keys("alice")
driver.find_element(By.ID, "authorize").click()
wait(lambda d: "Welcome" in text_of("h1"), "the home page")
driver.get(base + "/session/new")
driver.find_element(By.NAME, "owner").send_keys("acme")
driver.find_element(By.NAME, "name").send_keys("widgets")
driver.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
wait(lambda d: "/session/" in d.current_url and "/new" not in d.current_url, "the session page")
session_id = driver.current_url.rstrip("/").rsplit("/", 1)[1]
sandbox = Sandbox(sandbox_environment(session_id))
sandbox.send({"type": "ready"})
prompt = wait(lambda d: (lambda e: e if e.is_enabled() else None)(d.find_element(By.ID, "prompt")), "the composer to turn on")
print("PASS the sandbox connected and the composer turned on", flush=True)

# 2. a question card answered from the page
# The prompt goes with the model picked in the composer (the session's is Haiku).
Select(driver.find_element(By.ID, "prompt-model")).select_by_visible_text("Claude Sonnet 4.5")
prompt.send_keys("ask me something", Keys.ENTER)
command = sandbox.expect("prompt")
message_id = command["messageId"]
if command.get("content") != "ask me something":
    fail(f"the sandbox got {command!r}")
if "claude-sonnet-4-5" not in str(command.get("model")):
    fail(f"the prompt's model is {command.get('model')!r}, not the one picked in the composer")
sandbox.send({"type": "tool_call", "messageId": message_id, "tool": "question", "callId": "call-q", "status": "running",
              "args": {"id": "req-1", "questions": [{"question": "Which colour?", "options": [{"label": "Red"}, {"label": "Blue"}]}]}})
wait(lambda d: "Which colour?" in text_of(".question-card"), "the question card")
for button in driver.find_elements(By.CSS_SELECTOR, ".question-card .option"):
    if button.text == "Blue":
        button.click()
driver.find_element(By.XPATH, "//div[contains(@class,'question-card')]//button[text()='Answer']").click()
reply = sandbox.expect("question_reply")
if reply.get("requestId") != "req-1" or reply.get("answers") != [["Blue"]]:
    fail(f"question_reply carried {reply!r}")
print("PASS the question card's answer reached the sandbox", flush=True)

# 3. grouped tool calls, streamed text
for index in range(2):
    sandbox.send({"type": "tool_call", "messageId": message_id, "tool": "read", "callId": f"call-r{index}",
                  "status": "completed", "args": {"filePath": f"src/file{index}.swift"}})
sandbox.send({"type": "token", "messageId": message_id, "partId": "p1", "content": "Reading the files"})
wait(lambda d: "×2" in text_of(".tool-group[data-tool=read] .tool-count"), "two read calls grouped as one")
wait(lambda d: "Reading the files" in text_of(".assistant-text"), "the streamed text")
print("PASS consecutive calls of one tool are grouped", flush=True)

# 3b. tool formatters, Tasks, Files changed, session info
calls = [
    ("call-b1", "bash", "completed", {"command": "swift test --filter Login"}, "Test run with 3 tests passed"),
    ("call-e1", "edit", "running", {"filePath": "Sources/Login.swift", "oldString": "a\nb", "newString": "a\nb\nc"}, None),
    ("call-e1", "edit", "completed", {"filePath": "Sources/Login.swift", "oldString": "a\nb", "newString": "a\nb\nc"}, None),
    ("call-e1", "edit", "completed", {"filePath": "Sources/Login.swift", "oldString": "a\nb", "newString": "a\nb\nc"}, None),
    ("call-e2", "edit", "completed", {"filePath": "Sources/Login.swift", "oldString": "x\ny\nz\n", "newString": "w\n"}, None),
    ("call-e3", "edit", "error", {"filePath": "Sources/Broken.swift", "oldString": "q", "newString": "r"}, "oldString not found"),
    ("call-w1", "write", "completed", {"filePath": "Tests/LoginTests.swift", "content": "import Testing\n\n@Test func login() {}\n"}, None),
    ("call-r9", "read", "completed", {"filePath": "Package.swift", "offset": 10, "limit": 20}, None),
    ("call-t1", "todowrite", "completed", {"todos": [{"content": "Reproduce the failure", "status": "completed"},
                                                     {"content": "Fix the login check", "status": "in_progress"},
                                                     {"content": "Open a pull request", "status": "pending"}]}, None),
]
for call_id, tool, status, call_args, output in calls:
    sandbox.send({"type": "tool_call", "messageId": message_id, "tool": tool, "callId": call_id, "status": status,
                  "args": call_args, **({"output": output} if output else {})})
wait(lambda d: "3 tasks, 1 done" in content_of(".tool-group[data-tool=todowrite] .tool-summary"), "the TodoWrite call's line")
if "$ swift test --filter Login" not in content_of(".tool-group[data-tool=bash] .tool-summary"):
    fail(f"the Bash line is {content_of('.tool-group[data-tool=bash] .tool-summary')!r}")
bash_output = driver.find_element(By.CSS_SELECTOR, ".tool-group[data-tool=bash] .tool-output pre")
if bash_output.get_attribute("textContent") != "Test run with 3 tests passed":
    fail(f"the Bash output is {bash_output.get_attribute('textContent')!r}")
edit_lines = [e.get_attribute("textContent") for e in driver.find_elements(By.CSS_SELECTOR, ".tool-group[data-tool=edit] .tool-summary")]
if edit_lines != ["Sources/Login.swift +3 −2", "Sources/Login.swift +1 −3", "Sources/Broken.swift +1 −1"]:
    fail(f"the Edit lines are {edit_lines!r}")
if "Package.swift (lines 11–30)" not in content_of(".tool-group[data-tool=read] .tool-summary"):
    fail(f"the ranged Read is {content_of('.tool-group[data-tool=read] .tool-summary')!r}")
previews = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".tool-group[data-tool=edit] .tool-preview")]
if previews != ["Sources/Broken.swift +1 −1"]:
    fail(f"the folded Edit group's preview is {previews!r} (its latest call)")
if "Tests/LoginTests.swift (3 lines)" not in content_of(".tool-group[data-tool=write] .tool-summary"):
    fail(f"the Write line is {content_of('.tool-group[data-tool=write] .tool-summary')!r}")


def panel_state():
    tasks = [(e.get_attribute("data-state"), " ".join(e.text.split())) for e in driver.find_elements(By.CSS_SELECTOR, "#tasks li")]
    files = [e.text.split() for e in driver.find_elements(By.CSS_SELECTOR, "#files li")]
    return tasks, files, text_of("#tasks-count"), text_of("#files-count")


expected_panels = ([("completed", "● Reproduce the failure"), ("in_progress", "◐ Fix the login check"),
                    ("pending", "○ Open a pull request")],
                   [["Sources/Login.swift", "+4", "−5"], ["Tests/LoginTests.swift", "+3", "−0"]], "1/3", "2")
wait_equal(panel_state, expected_panels, "the Tasks and Files changed panels")
repo_link = driver.find_element(By.ID, "repo-link")
if not repo_link.get_attribute("href").endswith("/acme/widgets") or repo_link.text != "acme/widgets":
    fail(f"the repository link is {repo_link.get_attribute('href')!r} {repo_link.text!r}")
if text_of("#created") not in ("just now", "1 minute ago"):
    fail(f"Created says {text_of('#created')!r}")
print("PASS tools are described by kind; Tasks, Files changed and the session info are shown", flush=True)

# 4. a branch pushed without a PR links the compare page; a pull request artifact then takes the button
compare = "https://github.example/acme/widgets/compare/main...dispatch/x?expand=1"
sandbox.send({"type": "artifact", "messageId": message_id, "artifactType": "branch", "url": compare})
branch_link = wait(lambda d: (lambda e: e if e.is_displayed() else None)(d.find_element(By.ID, "pr-link")), "the compare link")
if branch_link.get_attribute("href") != compare or branch_link.text != "Open a pull request":
    fail(f"the compare link is {branch_link.get_attribute('href')!r} {branch_link.text!r}")
sandbox.send({"type": "artifact", "messageId": message_id, "artifactType": "pr",
              "url": "https://github.example/acme/widgets/pull/7", "metadata": {"prNumber": 7}})
# The button already shows (the compare link): wait for it to become the PR's, href and text together.
pr_link = lambda: (driver.find_element(By.ID, "pr-link").get_attribute("href"), driver.find_element(By.ID, "pr-link").text)
wait_equal(pr_link, ("https://github.example/acme/widgets/pull/7", "View pull request #7"), "the PR link")
print("PASS the compare link, then the PR link, are shown", flush=True)

# 5. a queued follow-up, then stop
follow_up = wait(lambda d: (lambda e: e if e.is_enabled() else None)(d.find_element(By.ID, "prompt")),
                 "the composer to take a prompt while one runs")
follow_up.send_keys("then tidy up", Keys.ENTER)
wait(lambda d: "queued, 1 ahead" in text_of(".user-message .queued-badge"), "the follow-up marked as queued")
stop = wait(lambda d: (lambda e: e if e.is_enabled() else None)(d.find_element(By.ID, "stop")), "Stop to be enabled")
stop.click()
sandbox.expect("stop")
sandbox.send({"type": "execution_complete", "messageId": message_id, "success": False, "error": "stopped"})
wait(lambda d: "Failed: stopped" in text_of(".complete"), "the stopped prompt's completion")
second = sandbox.expect("prompt")
if second.get("content") != "then tidy up":
    fail(f"after the stop the sandbox got {second!r}, not the queued follow-up")
sandbox.send({"type": "token", "messageId": second["messageId"], "partId": "p9", "content": "Tidied."})
wait(lambda d: not d.find_elements(By.CSS_SELECTOR, ".queued-badge"), "the queued mark to go once the follow-up runs")
sandbox.send({"type": "execution_complete", "messageId": second["messageId"], "success": True})
wait(lambda d: "Done" in text_of(".complete"), "the follow-up's completion")
print("PASS a follow-up waited its turn; Stop reached the sandbox", flush=True)

# 6. an unclean drop: the page reconnects with backoff and replays
driver.execute_script("document.getElementById('messages').dataset.mark = 'before-drop'")
proxy.cut()
wait(lambda d: not d.find_element(By.ID, "banner").get_attribute("hidden") and "Reconnecting" in text_of("#banner-text"),
     "the page to notice the drop", seconds=15)
wait(lambda d: d.find_element(By.ID, "banner").get_attribute("hidden") is not None
     and d.find_element(By.ID, "status").get_attribute("data-state") == "ready", "the page to reconnect", seconds=20)
wait(lambda d: "Which colour?" in text_of(".question-card") and d.find_element(By.ID, "pr-link").is_displayed()
     and "ask me something" in text_of(".user-message .bubble") and panel_state() == expected_panels,
     "the replayed history after the reconnect")
if driver.current_url.rstrip("/").rsplit("/", 1)[1] != session_id:
    fail("the page navigated away instead of reconnecting")
os.makedirs(args.screenshots, exist_ok=True)
driver.save_screenshot(os.path.join(args.screenshots, "session-interactive.png"))
print("PASS the page reconnected by itself and replayed the history", flush=True)

sandbox.socket.close()
driver.quit()
print("ALL PASSED", flush=True)
