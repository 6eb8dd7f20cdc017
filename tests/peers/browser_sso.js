#!/usr/bin/env node
// Drives Debian's Chromium (headless, through playwright-core: no browser download) through a
// login the way a citizen would, and saves a screenshot of each page.
//
// usage: node browser_sso.js '{"gateway": "http://127.0.0.1:P", "second_sp_start": "http://localhost:Q/start", "artifacts": "DIR"}'
// prints one JSON object: what the pages showed, every URL the browser visited, the headings of
// the screenshots, the gateway's Set-Cookie headers, and how the second service's AuthnRequest
// reached the gateway (`second_sso_request`: method, Sec-Fetch-Site, and whether the SSO cookie
// was sent with it).
'use strict';
const { launch, recordingPage, run } = require('./browser_common.js');

run(async (out) => {
  const args = JSON.parse(process.argv[2]);
  const browser = await launch();
  try {
    const { page, shot } = await recordingPage(browser, out, args.artifacts);
    out.set_cookies = [];
    page.on('response', async (r) => {
      if (!r.url().startsWith(args.gateway)) return;
      for (const h of await r.headersArray()) if (h.name.toLowerCase() === 'set-cookie') out.set_cookies.push(h.value);
    });

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
    const ssoRequest = page.waitForRequest((r) => r.url().startsWith(args.gateway + '/saml/idp/sso'));
    await page.goto(args.second_sp_start);
    const req = await ssoRequest;
    const headers = await req.allHeaders();
    out.second_sso_request = {
      method: req.method(),
      sec_fetch_site: headers['sec-fetch-site'] || null,
      origin: headers['origin'] || null,
      sso_cookie_sent: /(^|;\s*)__Host-gw_sso=/.test(headers['cookie'] || ''),
    };
    await page.waitForURL((u) => u.pathname === '/acs' || u.pathname.startsWith('/login'), { timeout: 20000 });
    await page.waitForLoadState('load');
    await shot('05-second-sp.png');
    out.steps.second_url = page.url();
    out.steps.second_text = await page.innerText('body');
    out.second_visited = out.visited.slice(mark);
  } finally {
    await browser.close();
  }
});
