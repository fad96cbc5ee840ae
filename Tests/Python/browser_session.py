"""Drives the Dispatch web app in real headless Chromium (Selenium + chromedriver, both from Debian).

Usage: browser_session.py --base URL --screenshots DIR [--repo OWNER/NAME]
The web app must use the fake GitHub OAuth server (fake_github_oauth.py) with ALLOWED_USERS=alice,bob,
and the control plane must run sandboxes with the shell agent.

Steps, each checked; the first failure prints "FAIL: ..." and exits 1; success prints "PASS" lines:
  1. alice signs in through the OAuth round trip and lands on the home page; on the Secrets page she saves
     a global secret, which is listed by name (its value never shown), creates an automation and edits it
  2. she creates a session from the new-session form and reaches its page
  3. the composer turns on once the sandbox is ready; she sends a shell command with Enter
  4. its output appears while it is still running (streamed, not shown only at completion), and the
     secret is in the command's environment
  5. bob, in a second browser, opens the same session: both see each other in the presence list,
     bob sees alice's prompt and the same output
  6. screenshots of the session list and the session page are saved
  7. mallory, who is not on the allowlist, is denied
"""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

parser = argparse.ArgumentParser()
parser.add_argument("--base", required=True)
parser.add_argument("--screenshots", required=True)
parser.add_argument("--repo", default="acme/widgets")
parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
parser.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
args = parser.parse_args()
drivers = []

COMMAND = "echo \"greeting=$BROWSER_GREETING\"; for i in 1 2 3 4 5 6; do echo tick-$i; sleep 1; done"
SECRET_VALUE = "hello-from-the-secrets-page"


def fail(message, driver=None):
    print(f"FAIL: {message}", flush=True)
    for index, each in enumerate(drivers):
        try:
            each.save_screenshot(os.path.join(args.screenshots, f"failure-{index}.png"))
            print(f"  browser {index} at {each.current_url}", flush=True)
            for entry in each.get_log("browser")[-20:]:
                print(f"  console: {entry.get('message')}", flush=True)
        except WebDriverException:
            pass
    for each in drivers:
        each.quit()
    sys.exit(1)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1360,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    drivers.append(driver)
    return driver


def wait(driver, condition, what, seconds=30):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1,
                             # A page that is being replaced can drop the element being read
                             # ("Node ... does not belong to the document"): poll again.
                             ignored_exceptions=(WebDriverException,)).until(lambda d: condition(d))
    except TimeoutException:
        fail(f"timed out after {seconds} s waiting for {what}")


def text_of(driver, selector):
    return " ".join(element.text for element in driver.find_elements(By.CSS_SELECTOR, selector))


def sign_in(driver, login):
    driver.get(args.base + "/")
    wait(driver, lambda d: "/sign-in" in d.current_url, "the sign-in page")
    driver.find_element(By.ID, "sign-in-github").click()
    wait(driver, lambda d: d.find_elements(By.ID, "login"), "the fake GitHub consent page")
    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "authorize").click()


# 1. alice signs in
alice = browser()
sign_in(alice, "alice")
wait(alice, lambda d: "Welcome" in text_of(d, "h1"), "alice's home page")
cookies = {cookie["name"]: cookie for cookie in alice.get_cookies()}
session_cookie = cookies.get("dispatch_session")
if not session_cookie or not session_cookie.get("httpOnly") or session_cookie.get("sameSite") != "Lax":
    fail(f"the session cookie is not HttpOnly/SameSite=Lax: {session_cookie}")
if alice.execute_script("return document.cookie").find("dispatch_session") >= 0:
    fail("the session cookie is readable from JavaScript")
print("PASS alice signed in through GitHub OAuth", flush=True)

alice.find_element(By.LINK_TEXT, "Secrets").click()
wait(alice, lambda d: "global secrets" in text_of(d, "h2").lower(), "the secrets page")
alice.find_element(By.CSS_SELECTOR, ".secret-form input[name=name]").send_keys("BROWSER_GREETING")
alice.find_element(By.CSS_SELECTOR, ".secret-form textarea[name=value]").send_keys(SECRET_VALUE)
alice.find_element(By.CSS_SELECTOR, ".secret-form button[type=submit]").click()
wait(alice, lambda d: "BROWSER_GREETING" in text_of(d, ".secret-name"), "the saved secret in the list")
if SECRET_VALUE in alice.page_source:
    fail("the secrets page shows a secret's value")
os.makedirs(args.screenshots, exist_ok=True)
alice.save_screenshot(os.path.join(args.screenshots, "secrets.png"))
print("PASS alice saved a secret on the secrets page", flush=True)

alice.find_element(By.LINK_TEXT, "Automations").click()
wait(alice, lambda d: "No automations yet." in text_of(d, ".automation-rows"), "the automations page")
form = alice.find_element(By.CSS_SELECTOR, ".automation-form")
form.find_element(By.NAME, "title").send_keys("Hourly check")
form.find_element(By.NAME, "repository").send_keys(args.repo)
form.find_element(By.NAME, "prompt").send_keys("echo still fine")
Select(form.find_element(By.NAME, "kind")).select_by_value("interval")
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
wait(alice, lambda d: "every 60 minutes" in text_of(d, ".automation-row"), "the new automation in the list")
alice.save_screenshot(os.path.join(args.screenshots, "automations.png"))
print("PASS alice created an automation", flush=True)
alice.find_element(By.CSS_SELECTOR, ".automation-row [data-action=edit]").click()
wait(alice, lambda d: d.find_element(By.NAME, "title").get_attribute("value") == "Hourly check", "the filled-in edit form")
title = alice.find_element(By.NAME, "title")
title.clear()
title.send_keys("Daily check")
Select(alice.find_element(By.NAME, "kind")).select_by_value("daily")
alice.find_element(By.CSS_SELECTOR, ".automation-form button[type=submit]").click()
wait(alice, lambda d: "Daily check" in text_of(d, ".automation-row") and "daily at 09:00 UTC" in text_of(d, ".automation-row"),
     "the edited automation in the list")
print("PASS alice edited the automation", flush=True)

# 2. a new session
alice.get(args.base + "/session/new")
owner, name = args.repo.split("/")
alice.find_element(By.NAME, "owner").send_keys(owner)
alice.find_element(By.NAME, "name").send_keys(name)
alice.find_element(By.NAME, "title").send_keys("Browser test session")
alice.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
wait(alice, lambda d: "/session/" in d.current_url and "/new" not in d.current_url, "the session page")
session_url = alice.current_url
if "Browser test session" not in text_of(alice, "#session-title"):
    fail("the session page does not show its title")
print(f"PASS created {session_url}", flush=True)

# 3. composer enabled once the sandbox is ready; Enter sends
prompt = wait(alice, lambda d: (lambda e: e if e.is_enabled() else None)(d.find_element(By.ID, "prompt")),
              "the composer to turn on (sandbox ready)", seconds=90)
prompt.send_keys("echo start", Keys.SHIFT, Keys.ENTER, Keys.SHIFT)   # Shift+Enter: a new line, not a send
if alice.find_elements(By.CSS_SELECTOR, ".user-message") or "\n" not in prompt.get_attribute("value"):
    fail("Shift+Enter sent the prompt instead of adding a line")
prompt.clear()
prompt.send_keys(COMMAND, Keys.ENTER)
wait(alice, lambda d: COMMAND in text_of(d, ".user-message .bubble"), "alice's prompt in her timeline", seconds=10)
print("PASS prompt sent with Enter", flush=True)

# 4. streamed output
streamed = wait(alice, lambda d: (lambda t: t if "tick-1" in t and "tick-6" not in t else None)(text_of(d, ".assistant-text")),
                "the first line of output while the command still runs", seconds=30)
if "waits its turn" not in alice.find_element(By.ID, "prompt").get_attribute("placeholder"):
    fail("while the prompt runs the composer does not say a new prompt would wait its turn")
if f"greeting={SECRET_VALUE}" not in streamed:
    fail(f"the secret is not in the command's environment: {streamed!r}")
print(f"PASS output streamed while running: {streamed!r}", flush=True)

# 5. bob joins the same session
bob = browser()
sign_in(bob, "bob")
wait(bob, lambda d: "Welcome" in text_of(d, "h1"), "bob's home page")
bob.get(session_url)
wait(bob, lambda d: "Alice" in text_of(d, "#presence") and "Bob" in text_of(d, "#presence"),
     "bob's presence list to show Alice and Bob")
wait(alice, lambda d: "Bob" in text_of(d, "#presence"), "alice's presence list to show Bob")
wait(bob, lambda d: COMMAND in text_of(d, ".user-message .bubble"), "alice's prompt in bob's timeline")
wait(alice, lambda d: "tick-6" in text_of(d, ".assistant-text") and d.find_elements(By.CSS_SELECTOR, ".complete"),
     "the command to finish for alice", seconds=40)
wait(bob, lambda d: "tick-6" in text_of(d, ".assistant-text") and d.find_elements(By.CSS_SELECTOR, ".complete"),
     "the command to finish for bob", seconds=20)
if text_of(alice, ".assistant-text") != text_of(bob, ".assistant-text"):
    fail(f"alice and bob see different output: {text_of(alice, '.assistant-text')!r} / {text_of(bob, '.assistant-text')!r}")
print("PASS bob sees alice's presence, prompt and the same output", flush=True)

# 6. screenshots
os.makedirs(args.screenshots, exist_ok=True)
wait(alice, lambda d: d.find_element(By.ID, "prompt").is_enabled(), "the composer to turn on again")
alice.save_screenshot(os.path.join(args.screenshots, "session-page.png"))
alice.get(args.base + "/sessions")
wait(alice, lambda d: "Browser test session" in text_of(d, ".session-title"), "the session list")
alice.save_screenshot(os.path.join(args.screenshots, "session-list.png"))
print(f"PASS screenshots in {args.screenshots}", flush=True)

# 7. an unlisted user is denied
mallory = browser()
sign_in(mallory, "mallory")
wait(mallory, lambda d: "/access-denied" in d.current_url and "Access denied" in text_of(d, "h1"), "mallory's denial")
mallory.get(args.base + "/sessions")
wait(mallory, lambda d: "/sign-in" in d.current_url, "mallory sent back to sign-in")
print("PASS an unlisted user is denied", flush=True)

for driver in drivers:
    driver.quit()
print("ALL PASSED", flush=True)
