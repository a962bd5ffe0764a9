"""Drives `fcstore ui` in headless Debian chromium through selenium (chromium-driver).

Run by Tests/fcstoreTests/DashboardBrowserTests.swift, which makes the store, starts
the server and passes a JSON document naming the URL, the runs and what to expect:

    check_dashboard.py browse SPEC.json   runs, sorting, filtering, run, compare, diff,
                                          weights, verify pages; XSS corpus; console;
                                          raw HTTP: 405s, 404s, slow clients
    check_dashboard.py live SPEC.json     a run trained while its page is open gains
                                          its new epoch without a reload

Prints one line per check and exits 1 with the failures when any fails.
"""
import json
import os
import socket
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium's own driver download is never used.
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


def navigate(driver, element):
    """Clicks a link or button and waits for the next page to replace this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def row_ids(driver):
    return [row.get_attribute("data-run") for row in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")]


def assert_escaped(driver, corpus, where):
    """No corpus string became markup: no element but ours, no event handler, no dialog."""
    scripts = driver.execute_script(
        "return Array.from(document.scripts).map(function (s) { return s.getAttribute('src') || 'INLINE'; });")
    check(all(src == "/static/dashboard.js" for src in scripts), f"{where}: only the dashboard's script ({scripts})")
    injected = driver.execute_script("""
        var found = [];
        document.querySelectorAll('*').forEach(function (element) {
          if (['IMG', 'IFRAME', 'OBJECT', 'EMBED', 'BASE'].indexOf(element.tagName) >= 0) { found.push(element.tagName); }
          for (var i = 0; i < element.attributes.length; i++) {
            if (/^on/i.test(element.attributes[i].name)) { found.push(element.tagName + '@' + element.attributes[i].name); }
          }
        });
        return found;""")
    check(injected == [], f"{where}: no injected element or handler ({injected})")
    check(driver.execute_script("return window.__xss === undefined;"), f"{where}: no corpus script ran")


def browse(spec):
    url = spec["url"]
    driver = browser()
    try:
        # Runs page: every run of the store, by its id.
        driver.get(url)
        ids = row_ids(driver)
        check(sorted(ids) == sorted(spec["runs"].values()), f"runs page lists the store's {len(spec['runs'])} runs")
        texts = driver.find_element(By.ID, "runs").text
        for name in spec["runs"]:
            check(name in texts, f"runs page shows the name {name!r} as text")
        assert_escaped(driver, spec["corpus"], "runs page")

        # Sorting: by epochs ascending, then descending, changes the row order.
        navigate(driver, driver.find_element(By.CSS_SELECTOR, "a.sort[data-key='epochs']"))
        epochs = [int(cell.text) for cell in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr td:nth-child(4)")]
        check(epochs == sorted(epochs) and len(set(epochs)) > 1, f"sorted by epochs ascending: {epochs}")
        ascending = row_ids(driver)
        navigate(driver, driver.find_element(By.CSS_SELECTOR, "a.sort[data-key='epochs']"))
        epochs = [int(cell.text) for cell in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr td:nth-child(4)")]
        check(epochs == sorted(epochs, reverse=True), f"sorted by epochs descending: {epochs}")
        check(row_ids(driver) != ascending, "the descending order differs from the ascending one")

        # Filtering: the filter box keeps only matching runs.
        box = driver.find_element(By.ID, "filter")
        box.clear()
        box.send_keys(spec["filter"])
        navigate(driver, driver.find_element(By.ID, "apply"))
        check(sorted(row_ids(driver)) == sorted(spec["filtered"]), f"filter {spec['filter']!r} keeps {len(spec['filtered'])} runs")
        driver.get(url + "?q=" + "%3Cscript%3Ewindow.__xss%3D9%3C%2Fscript%3E")
        check(row_ids(driver) == [], "a filter matching nothing shows no rows")
        assert_escaped(driver, spec["corpus"], "runs page with a reflected filter")

        # Run page: one SVG path per metric drawn, each metric once.
        run = spec["runs"][spec["main"]]
        driver.get(url)
        navigate(driver, driver.find_element(By.CSS_SELECTOR, f"tr[data-run='{run}'] td.name a"))
        metrics = [p.get_attribute("data-metric") for p in driver.find_elements(By.CSS_SELECTOR, "#live svg.chart path.curve")]
        check(len(metrics) == len(set(metrics)) and set(metrics) == set(spec["metrics"]),
              f"run page: one path per metric {sorted(spec['metrics'])} (got {sorted(metrics)})")
        rows = driver.find_elements(By.CSS_SELECTOR, "#epochs tbody tr")
        check(len(rows) == spec["epochs"][spec["main"]] + 1, f"run page: {len(rows)} epoch rows")
        if spec.get("screenshot"):
            driver.save_screenshot(spec["screenshot"])

        # Diff opens from the run page's link.
        navigate(driver, driver.find_element(By.CSS_SELECTOR, "a.diff-link"))
        check("/diff" in driver.current_url, "a diff link opens the diff page")
        layers = driver.find_elements(By.CSS_SELECTOR, "#layers tbody tr")
        check(len(layers) == spec["tensors"], f"diff page: {len(layers)} tensors (W and b of each layer)")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#histogram rect.bar")) > 0, "diff page: a histogram of changes")

        # Compare opens from the runs page's ticked boxes.
        driver.get(url)
        for name in spec["compare"]:
            driver.find_element(By.CSS_SELECTOR, f"input[name='run'][value='{spec['runs'][name]}']").click()
        navigate(driver, driver.find_element(By.ID, "compare"))
        check("/compare" in driver.current_url, "ticking runs and pressing Compare opens the compare page")
        drawn = {p.get_attribute("data-run") for p in driver.find_elements(By.CSS_SELECTOR, "svg.chart path.curve")}
        check(drawn == {spec["runs"][name] for name in spec["compare"]}, "compare page overlays the ticked runs")
        differing = [row.find_element(By.TAG_NAME, "th").text for row in driver.find_elements(By.CSS_SELECTOR, "#differences tbody tr")]
        check(differing == spec["differing"], f"compare page lists only the differing hyper-parameters: {differing}")

        # Every page with the XSS corpus in it.
        for path in spec["xss_pages"]:
            driver.get(url + path)
            check(driver.title != "" and "Not found" not in driver.title, f"{path} opens")
            body = driver.find_element(By.TAG_NAME, "body").text
            shown = [text for text in spec["corpus"] if text in body]
            check(len(shown) > 0, f"{path}: the corpus shows as text ({len(shown)} strings)")
            assert_escaped(driver, spec["corpus"], path)

        for path in spec["pages"]:
            driver.get(url + path)
            check("Not found" not in driver.title and "Error" not in driver.title, f"{path} opens ({driver.title})")

        errors = console_errors(driver)
        check(errors == [], f"the browser console has no errors ({errors})")
    finally:
        driver.quit()
    raw_http(spec)


def request(spec, raw):
    """Sends a raw request (with Connection: close) and reads the whole response."""
    with socket.create_connection((spec["host"], spec["port"]), timeout=10) as connection:
        connection.sendall(raw)
        data = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        line = data.split(b"\r\n", 1)[0].decode("latin-1")
        return int(line.split(" ")[1]) if line.startswith("HTTP/") else None, data


def raw_http(spec):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, data = request(spec, f"{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}".encode())
        check(status == 405 and b"allow: get, head" in data.lower(), f"{method} gets 405 with Allow: GET, HEAD")
    run = spec["runs"][spec["main"]]
    for path in ["/runs/../etc/passwd", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", f"/runs/{run}%2f..%2fweights",
                 "/runs/%41", "/static/..%2fdashboard.js", "/" + "a" * 5000, f"/runs/{run}/" + "x/" * 300,
                 "/runs//weights", "/runs/nope", f"/runs/{run}/epochs/999/model.onnx", f"/runs/{run}/epochs/-1/model.onnx",
                 "/diff?a=nope@1&b=nope@2"]:
        status, data = request(spec, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        check(status == 404 and b"<h1>Not found</h1>" in data, f"GET {path[:60]} gets the 404 page ({status})")
    status, _ = request(spec, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status == 200, "HEAD / gets 200")

    # Slow clients: many connections dribbling a request head do not hold the server,
    # and each is closed after the idle timeout.
    slow = []
    for _ in range(40):
        connection = socket.create_connection((spec["host"], spec["port"]), timeout=30)
        connection.sendall(b"GET / HT")
        slow.append(connection)
    started = time.monotonic()
    status, _ = request(spec, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status == 200 and time.monotonic() - started < 2, f"a request is served while 40 slow clients wait ({time.monotonic() - started:.2f} s)")
    closed = 0
    deadline = time.monotonic() + spec["idle_timeout"] + 5
    for connection in slow:
        connection.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            closed += connection.recv(1024) == b""
        except (socket.timeout, ConnectionResetError):
            closed += 0
        connection.close()
    check(closed == len(slow), f"the server closed {closed} of {len(slow)} idle slow connections within {spec['idle_timeout']} s + 5 s")


def live(spec):
    driver = browser()
    try:
        driver.get(spec["url"] + "runs/" + spec["run"])
        before = len(driver.find_elements(By.CSS_SELECTOR, "#epochs tbody tr"))
        check(before == spec["epochs_before"], f"the run page shows {before} epoch rows before training")
        driver.execute_script("window.__sameDocument = 42;")
        result = subprocess.run(spec["train"], cwd=spec["cwd"], capture_output=True, text=True, timeout=300)
        committed = time.monotonic()
        check(result.returncode == 0, f"training went on: {result.stderr.strip()[-300:]}")
        seen = None
        while time.monotonic() - committed < 10:
            rows = driver.find_elements(By.CSS_SELECTOR, f"#epochs tbody tr[data-epoch='{spec['new_epoch']}']")
            if rows:
                seen = time.monotonic() - committed
                break
            time.sleep(0.05)
        check(seen is not None and seen <= 2.0, f"epoch {spec['new_epoch']} appeared {seen if seen is None else round(seen, 2)} s after its commit (at most 2 s)")
        check(driver.execute_script("return window.__sameDocument;") == 42, "without a reload")
        metrics = [p.get_attribute("data-metric") for p in driver.find_elements(By.CSS_SELECTOR, "#live svg.chart path.curve")]
        check(len(metrics) > 0, "the live section still has its curves")
        errors = console_errors(driver)
        check(errors == [], f"the browser console has no errors ({errors})")
    finally:
        driver.quit()


if __name__ == "__main__":
    with open(sys.argv[2]) as handle:
        document = json.load(handle)
    {"browse": browse, "live": live}[sys.argv[1]](document)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
