#!/usr/bin/env node
// Single logout in Debian's Chromium (headless, playwright-core): log in at the demo service,
// use two more services on another site (single sign-on), then log out at the demo. The
// gateway's logout page tells the other two in hidden frames; one answers, one never does, and
// the page's script continues on its own after its wait. Screenshots of each page.
//
// usage: node browser_slo.js '{"gateway": "http://127.0.0.1:P", "services": ["http://localhost:Q/start", ...], "artifacts": "DIR"}'
// prints one JSON object: the demo's logout result, the logout page's language and frame count,
// the URL the script finished at, and every URL the main frame visited.
'use strict';
const { launch, recordingPage, run } = require('./browser_common.js');

run(async (out) => {
  const args = JSON.parse(process.argv[2]);
  const browser = await launch();
  try {
    const { page, shot } = await recordingPage(browser, out, args.artifacts);
    await page.goto(args.gateway + '/demo');
    await Promise.all([page.waitForURL(/\/login\?flow=/), page.click('#login')]);
    await Promise.all([page.waitForURL(/\/login\/testbank/), page.click('[data-method="testbank"]')]);
    await Promise.all([page.waitForURL(/\/demo\/acs/), page.click('[data-person]')]);
    await page.waitForSelector('#logout');
    await shot('01-demo-logged-in.png');

    for (const start of args.services) {
      await page.goto(start);
      await page.waitForURL((u) => u.pathname === '/acs', { timeout: 20000 });
    }

    await page.goto(args.gateway + '/demo');
    const logoutPage = page.waitForURL(/\/saml\/idp\/slo\?/);
    await page.goto(args.gateway + '/demo/logout');
    await logoutPage;
    out.steps.logout_lang = await page.getAttribute('html', 'lang');
    out.steps.frames = await page.locator('iframe.slo').count();
    await shot('02-logout-in-progress.png');
    // No click: the page's own script continues once every frame is back or its wait is over.
    await page.waitForURL(/\/demo\/slo\?/, { timeout: 30000 });
    await page.waitForSelector('#result');
    await shot('03-demo-logged-out.png');
    out.steps.result = await page.getAttribute('#result', 'data-result');
    out.steps.result_text = await page.innerText('main');
    out.steps.final_url = page.url();
  } finally {
    await browser.close();
  }
});
