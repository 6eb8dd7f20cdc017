#!/usr/bin/env node
// Drives Debian's Chromium (headless, through playwright-core: no browser download) through a
// login the way a citizen would, and saves a screenshot of each page.
//
// usage: node browser_sso.js '{"gateway": "http://127.0.0.1:P", "second_sp_start": "http://localhost:Q/start", "artifacts": "DIR"}'
// prints one JSON object: what the pages showed and every URL the browser visited.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

async function main() {
  const args = JSON.parse(process.argv[2]);
  fs.mkdirSync(args.artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const out = { visited: [], steps: {} };
  try {
    const context = await browser.newContext({ locale: 'fi-FI' });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) out.visited.push(f.url()); });
    const shot = async (name) => page.screenshot({ path: path.join(args.artifacts, name), fullPage: true });

    await page.goto(args.gateway + '/demo');
    await shot('01-demo-sp.png');
    await Promise.all([page.waitForURL(/\/login\?flow=/), page.click('#login')]);
    out.steps.selection_lang = await page.getAttribute('html', 'lang');
    out.steps.selection_text = await page.innerText('main');
    await shot('02-method-selection.png');
    await Promise.all([page.waitForURL(/\/login\/testbank/), page.click('[data-method="testbank"]')]);
    await shot('03-test-bank.png');
    await Promise.all([page.waitForURL(/\/demo\/acs/), page.click('[data-person]')]);
    await page.waitForSelector('#result');
    await shot('04-demo-sp-logged-in.png');
    out.steps.demo_result = await page.getAttribute('#result', 'data-result');
    out.steps.demo_text = await page.innerText('main');

    // A second service on another site: its POST-binding AuthnRequest is a cross-site POST.
    const mark = out.visited.length;
    await page.goto(args.second_sp_start);
    await page.waitForURL((u) => u.pathname === '/acs' || u.pathname.startsWith('/login'), { timeout: 20000 });
    await page.waitForLoadState('load');
    await shot('05-second-sp.png');
    out.steps.second_url = page.url();
    out.steps.second_text = await page.innerText('body');
    out.second_visited = out.visited.slice(mark);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
