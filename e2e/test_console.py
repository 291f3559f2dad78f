"""The web console in a real browser: headless Chromium (Debian `chromium` and
`chromium-driver`) driven by Selenium against a real `cairn` process (issue 12).

One session walks what a person does: log in as root, create a bucket, upload a 20 MiB
file and watch its progress bar reach 100 %, download it through the browser
(byte-identical), write a policy in the JSON editor (an invalid one is refused before it
is sent), create a user with it, log in as that user and see only what the policy lets
it see, then replace a drive directory of the running server with a file and see the
health page report that drive offline.

Screenshots of each page go to $CAIRN_E2E_SCREENSHOTS (default: the test's temporary
directory); `CAIRN_E2E_SCREENSHOTS=docs/console e2e/run.sh -k console` refreshes the
ones the README shows.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from conftest import REPO, ROOT_PASSWORD, ROOT_USER  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30

pytestmark = [
    pytest.mark.needs_process,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="headless Chromium is not installed (e2e/setup.sh installs it as root)"),
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture
def browser(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # The HTTPS test's server has a certificate of the session's own test CA.
    opts.accept_insecure_certs = True
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {
        "download.default_directory": str(downloads),
        "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
    })
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(WAIT)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


class Shots:
    def __init__(self, driver, tmp_path):
        self.driver = driver
        env = os.environ.get("CAIRN_E2E_SCREENSHOTS")
        self.dir = (REPO / env if not os.path.isabs(env) else Path(env)) if env else tmp_path / "screenshots"
        self.dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str):
        # The whole page, not just the window.
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, min(max(int(height) + 120, 900), 2400))
        self.driver.save_screenshot(str(self.dir / f"{name}.png"))
        self.driver.set_window_size(1280, 900)


def wait(driver, cond, timeout=WAIT):
    return WebDriverWait(driver, timeout).until(cond)


def log_in(driver, url, user, secret):
    driver.get(url + "/login")
    driver.find_element(By.ID, "access_key").send_keys(user)
    driver.find_element(By.ID, "secret_key").send_keys(secret)
    driver.find_element(By.ID, "login").click()
    wait(driver, EC.presence_of_element_located((By.ID, "whoami")))
    assert driver.find_element(By.ID, "whoami").text == user


def log_out(driver):
    driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
    wait(driver, EC.presence_of_element_located((By.ID, "access_key")))


def test_console_in_a_browser(server_factory, browser, tmp_path):
    target = server_factory(tls=False, name="cairn-console")
    proc = target.process
    url = proc.console_url
    s3 = target.client()
    shot = Shots(browser, tmp_path)
    driver = browser

    # The login page, and a wrong secret.
    driver.get(url + "/login")
    shot("login")
    driver.find_element(By.ID, "access_key").send_keys(ROOT_USER)
    driver.find_element(By.ID, "secret_key").send_keys("not-the-password")
    driver.find_element(By.ID, "login").click()
    assert "Wrong access key or secret key" in wait(
        driver, EC.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]"))).text
    # Nothing secret is in a URL or in the page's storage.
    assert "password" not in driver.current_url
    assert driver.execute_script("return window.localStorage.length + window.sessionStorage.length") == 0

    log_in(driver, url, ROOT_USER, ROOT_PASSWORD)
    # The session cookie is HttpOnly: the page's script cannot read it.
    assert "cairn-console" not in driver.execute_script("return document.cookie")

    # Create a versioned bucket.
    bucket, hidden = "console-e2e", "console-hidden"
    s3.create_bucket(Bucket=hidden)
    driver.find_element(By.ID, "new-bucket").send_keys(bucket)
    driver.find_element(By.CSS_SELECTOR, "#create-bucket input[name=versioning]").click()
    driver.find_element(By.CSS_SELECTOR, "#create-bucket button[type=submit]").click()
    wait(driver, EC.presence_of_element_located((By.LINK_TEXT, bucket)))
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    shot("buckets")

    # Upload 20 MiB (three 8 MiB multipart parts) and watch the progress bar.
    src = tmp_path / "twenty.bin"
    src.write_bytes(os.urandom(20 * 1024 * 1024))
    driver.find_element(By.LINK_TEXT, bucket).click()
    wait(driver, EC.presence_of_element_located((By.ID, "upload-files")))
    driver.find_element(By.ID, "upload-files").send_keys(str(src))
    driver.find_element(By.ID, "upload-start").click()
    bar = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#upload-list progress")))
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen.add(int(bar.get_attribute("value") or 0))
        state = driver.find_element(By.CSS_SELECTOR, "#upload-list .state").text
        if state in ("done",) or state.startswith("failed"):
            break
        time.sleep(0.05)
    assert state == "done", state
    assert int(bar.get_attribute("value")) == 100
    assert driver.find_element(By.CSS_SELECTOR, "#upload-list .pct").text == "100 %"
    shot("upload")
    head = s3.head_object(Bucket=bucket, Key="twenty.bin")
    assert head["ContentLength"] == 20 * 1024 * 1024
    assert "-" in head["ETag"], "stored by a multipart upload"

    # Download through the browser: the saved file is byte-identical.
    driver.find_element(By.ID, "upload-refresh").click()
    link = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "a[aria-label='Download twenty.bin']")))
    shot("objects")
    link.click()
    saved = driver.downloads / "twenty.bin"
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not (saved.exists() and saved.stat().st_size == src.stat().st_size
                                               and not list(driver.downloads.glob("*.crdownload"))):
        time.sleep(0.1)
    assert saved.exists(), list(driver.downloads.iterdir())
    assert sha256(saved) == sha256(src)

    # The object's details page.
    driver.find_element(By.LINK_TEXT, "twenty.bin").click()
    wait(driver, EC.presence_of_element_located((By.ID, "object-facts")))
    shot("object")

    # A policy in the JSON editor: invalid JSON is refused in the page, a valid one saved.
    driver.get(url + "/identities")
    name = driver.find_element(By.ID, "policy-name")
    doc = driver.find_element(By.ID, "policy-doc")
    name.send_keys("console-e2e-only")
    doc.clear()
    doc.send_keys('{"Version": "2012-10-17", "Statement": [')
    driver.find_element(By.CSS_SELECTOR, "#policy-editor button[type=submit]").click()
    status = driver.find_element(By.ID, "policy-status")
    assert "Not valid JSON" in status.text
    assert doc.get_attribute("aria-invalid") == "true"
    assert driver.current_url.endswith("/identities"), "the invalid policy was not sent"
    policy = ('{"Version": "2012-10-17", "Statement": ['
              '{"Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": ["arn:aws:s3:::*"]},'
              '{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::%s", "arn:aws:s3:::%s/*"]}]}'
              % (bucket, bucket))
    doc.clear()
    doc.send_keys(policy)
    assert "Valid policy JSON" in status.text
    driver.find_element(By.CSS_SELECTOR, "#policy-editor button[type=submit]").click()
    wait(driver, EC.presence_of_element_located((By.LINK_TEXT, "console-e2e-only")))

    # A user with that policy.
    driver.find_element(By.ID, "user-key").send_keys("console-user")
    driver.find_element(By.ID, "user-secret").send_keys("console-user-secret")
    driver.find_element(By.CSS_SELECTOR, "#add-user input[value='console-e2e-only']").click()
    driver.find_element(By.CSS_SELECTOR, "#add-user button[type=submit]").click()
    row = wait(driver, EC.presence_of_element_located((By.XPATH, "//table[@id='users']//td[text()='console-user']/..")))
    assert "console-e2e-only" in row.text
    shot("identities")

    # The user sees its bucket and nothing else.
    log_out(driver)
    log_in(driver, url, "console-user", "console-user-secret")
    buckets = driver.find_element(By.ID, "buckets").text
    assert bucket in buckets and hidden not in buckets
    shot("user-buckets")
    driver.get(url + "/browse?bucket=" + hidden)
    assert "not allowed" in driver.find_element(By.TAG_NAME, "main").text
    driver.get(url + "/health")
    assert "not allowed" in driver.find_element(By.TAG_NAME, "main").text
    driver.get(url + "/identities")
    assert "Not visible to this identity" in driver.find_element(By.ID, "users-h").find_element(By.XPATH, "..").text
    log_out(driver)

    # A drive of the running server replaced by a file: the health page shows it offline.
    log_in(driver, url, ROOT_USER, ROOT_PASSWORD)
    driver.get(url + "/health")
    assert driver.find_element(By.ID, "drives-offline").text == "0"
    broken = proc.drives[-1]
    shutil.rmtree(broken)
    broken.write_text("not a drive any more\n")
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        driver.get(url + "/health")
        if driver.find_element(By.ID, "drives-offline").text == "1":
            break
        time.sleep(0.5)
    row = driver.find_element(By.CSS_SELECTOR, f"#drives tr[data-endpoint$='{broken.name}']")
    assert "offline" in row.text, row.text
    assert driver.find_element(By.ID, "drives-offline").text == "1"
    assert broken.name in driver.find_element(By.ID, "problems").text
    shot("health")


def test_console_over_https_uses_secure_host_cookies(server_factory, browser):
    target = server_factory(tls=True, name="cairn-console-tls")
    url = target.process.console_url
    assert url.startswith("https://")
    # The same certificate as the S3 port, and the security headers.
    import urllib.request
    with urllib.request.urlopen(url + "/login", timeout=10, context=target.ssl_context()) as r:
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    # Chromium does not know the test CA: the session accepts insecure certificates.
    try:
        log_in(browser, url, ROOT_USER, ROOT_PASSWORD)
    except Exception:
        print(browser.current_url, browser.page_source[:3000])
        raise
    cookies = {c["name"]: c for c in browser.get_cookies()}
    c = cookies["__Host-cairn-console"]
    assert c["secure"] and c["httpOnly"] and c["sameSite"] == "Strict" and c["path"] == "/"
    assert "cairn-console" not in browser.execute_script("return document.cookie")
