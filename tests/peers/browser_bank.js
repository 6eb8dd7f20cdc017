#!/usr/bin/env node
// Debian's Chromium (headless, via playwright-core) logs in the way a citizen would with a bank:
// demo e-service -> method selection -> the stand-in bank's login page -> back to the demo
// e-service with the attributes shown. A screenshot of each page is saved.
//
// usage: node browser_bank.js '{"gateway": "http://127.0.0.1:P", "method": "bank:testpankki", "person": "tupas-2", "artifacts": "DIR"}'
'use strict';
const { launch, recordingPage, run } = require('./browser_common.js');

run(async (out) => {
  const args = JSON.parse(process.argv[2]);
  const browser = await launch();
  try {
    const { page, shot } = await recordingPage(browser, out, args.artifacts);

    await page.goto(args.gateway + '/demo');
    await shot('bank-01-demo-sp.png');
    await Promise.all([page.waitForURL(/\/login\?flow=/), page.click('#login')]);
    await shot('bank-02-method-selection.png');
    out.steps.selection_text = await page.innerText('main');
    await Promise.all([
      page.waitForURL((u) => u.pathname.startsWith('/interaction/')),
      page.click(`[data-method="${args.method}"]`),
    ]);
    await page.waitForSelector(`[data-person="${args.person}"]`);
    await shot('bank-03-bank-login.png');
    out.steps.bank_url = page.url();
    await Promise.all([page.waitForURL(/\/demo\/acs/), page.click(`[data-person="${args.person}"]`)]);
    await page.waitForSelector('#result');
    await shot('bank-04-demo-sp-logged-in.png');
    out.steps.demo_result = await page.getAttribute('#result', 'data-result');
    out.steps.demo_text = await page.innerText('main');
  } finally {
    await browser.close();
  }
});
