#!/usr/bin/env node
// Drives Debian's Chromium (headless, through playwright-core: no browser download) through a
// login the way a citizen would, and saves a screenshot of each page.
//
// Then a fresh browser context starts a login with the second service's cross-site POST
// (`fresh_login`: how the POST arrived, the flow cookie the gateway set, where it ended).
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

    // A fresh browser (no session): the second service's cross-site POST starts a login, whose
    // flow lives in a SameSite=Lax cookie set by the answer to that POST.
    const fresh = await recordingPage(browser, { visited: [], steps: {} }, args.artifacts);
    const freshSso = fresh.page.waitForRequest((r) => r.url().startsWith(args.gateway + '/saml/idp/sso'));
    const freshAnswer = fresh.page.waitForResponse((r) => r.url().startsWith(args.gateway + '/saml/idp/sso'));
    await fresh.page.goto(args.second_sp_start);
    const fh = await (await freshSso).allHeaders();
    const answer = await freshAnswer;
    const flowCookie = (await answer.headersArray())
      .filter((h) => h.name.toLowerCase() === 'set-cookie')
      .map((h) => h.value)
      .find((v) => v.startsWith('__Host-gw_flow_'));
    await fresh.page.waitForURL(/\/login\?flow=/);
    await fresh.page.waitForSelector('[data-method="testbank"]');
    await fresh.shot('06-fresh-selection.png');
    await Promise.all([fresh.page.waitForURL(/\/login\/testbank/), fresh.page.click('[data-method="testbank"]')]);
    await Promise.all([fresh.page.waitForURL((u) => u.pathname === '/acs'), fresh.page.click('[data-person]')]);
    await fresh.page.waitForSelector('#got');
    await fresh.shot('07-fresh-second-sp.png');
    out.fresh_login = {
      sec_fetch_site: fh['sec-fetch-site'] || null,
      sso_cookie_sent: /(^|;\s*)__Host-gw_sso=/.test(fh['cookie'] || ''),
      flow_cookie: flowCookie || null,
      final_url: fresh.page.url(),
    };
  } finally {
    await browser.close();
  }
});
