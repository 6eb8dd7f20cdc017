// Shared by the browser tests: Debian's Chromium, headless, through playwright-core (no browser
// download), with the flags a closed network needs, and a page that records where it went.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

// A Finnish-locale page whose main-frame navigations are appended to `out.visited`, and a
// screenshot helper writing into `artifacts`. Each screenshot `NAME.png` gets `NAME.heading.txt`
// beside it: the text of the page's first <h1> (empty when it has none), read from the DOM right
// before the screenshot, so a test can check what the picture shows; `out.shots[NAME]` has the
// same text.
async function recordingPage(browser, out, artifacts) {
  fs.mkdirSync(artifacts, { recursive: true });
  out.shots = {};
  const context = await browser.newContext({ locale: 'fi-FI' });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) out.visited.push(f.url()); });
  const shot = async (name) => {
    const h1 = page.locator('h1').first();
    const heading = (await h1.count()) ? (await h1.innerText()).trim() : '';
    await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
    fs.writeFileSync(path.join(artifacts, name.replace(/\.png$/, '') + '.heading.txt'), heading);
    out.shots[name] = heading;
  };
  return { page, context, shot };
}

// Run `body(out)` and print `out` as one JSON line; exit 1 with the error on stderr.
function run(body) {
  const out = { visited: [], steps: {} };
  body(out)
    .then(() => process.stdout.write(JSON.stringify(out) + '\n'))
    .catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
}

module.exports = { launch, recordingPage, run };
