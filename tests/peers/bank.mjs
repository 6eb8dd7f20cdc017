#!/usr/bin/env node
// A stand-in FTN bank: the npm package oidc-provider configured like a Finnish Trust Network
// OpenID Provider (signed request objects, PKCE S256, private_key_jwt, encrypted ID tokens),
// with test persons and hostile modes for the gateway's end-to-end tests.
//
//   node tests/peers/bank.mjs --client client.json [--port 0] [--exit-with-parent]
//
// stdout: exactly one line `listening <issuer>` once the bank answers requests; everything else
// (oidc-provider warnings, logins, refusals, rewrites) goes to stderr.
// Environment:
//   BANK_MODE         normal (default) | plain-id-token | alg-none | hs256-pubkey | expired |
//                     wrong-nonce | unknown-kid | wrong-aud | wrong-iss | low-acr | userinfo-sub
//   BANK_AUTO_PERSON  a test person id: GET /interaction/<uid> logs that person in at once (no page)
//   BANK_VERBOSE=1    also stderr lines per HTTP request: `request GET /path` when it arrives,
//                     `GET /path -> 200 (3 ms)` when it is answered
// See BANK.md next to this file for the client file, the test persons and what each mode does.

import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

// oidc-provider prints its notices with console.info (stdout). stdout carries only the
// `listening` line, so route console output to stderr before the library is loaded.
const writeStdout = (line) => process.stdout.write(`${line}\n`);
// A reader that went away must not kill the bank (EPIPE).
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
console.log = console.info = console.debug = (...args) => console.error(...args);

const { default: Provider, errors } = await import('oidc-provider');
const jose = await import('jose');

const LOA2 = 'http://ftn.ficora.fi/2017/loa2';
const LOA3 = 'http://ftn.ficora.fi/2017/loa3';
const HOST = '127.0.0.1';
const MODES = ['normal', 'plain-id-token', 'alg-none', 'hs256-pubkey', 'expired', 'wrong-nonce',
  'unknown-kid', 'wrong-aud', 'wrong-iss', 'low-acr', 'userinfo-sub'];
// Modes in which the bank re-issues the ID token that oidc-provider produced, with one defect.
const ID_TOKEN_REWRITES = ['alg-none', 'hs256-pubkey', 'expired', 'wrong-nonce', 'unknown-kid', 'wrong-aud', 'wrong-iss'];
const WRONG_ISS = 'http://127.0.0.1:1';
const WRONG_AUD = 'someone-else';
const WRONG_NONCE = 'not-the-nonce-you-sent';
const WRONG_SUB = 'somebody-else';
const EXPIRED_SHIFT = 3600;

// Test persons. Finnish personal identity codes of the test series only (individual numbers
// 900-999, which no person has; check character verified at startup), invented for tests. `name` is "family given" as FTN banks send it;
// tupas-4 has only `name` (some FTN sources have no separate given/family names).
const PERSONS = {
  'tupas-1': { given_name: 'Matti Matias', family_name: 'von Möttonen', personal_identity_code: '130588-9315', birthdate: '1988-05-13' },
  'tupas-2': { given_name: 'Väinö', family_name: 'Tunnistus', personal_identity_code: '070770-905D', birthdate: '1970-07-07' },
  'tupas-3': { given_name: 'Siiri', family_name: 'Sjöberg', personal_identity_code: '010304A957Y', birthdate: '2004-03-01' },
  'tupas-4': { name: 'Kuusela Eero', personal_identity_code: '311299Y943M', birthdate: '1999-12-31' },
};
for (const p of Object.values(PERSONS)) p.name ??= `${p.family_name} ${p.given_name}`;

const USAGE = 'usage: node bank.mjs --client FILE [--port N] [--exit-with-parent]   (env BANK_MODE, BANK_AUTO_PERSON, BANK_VERBOSE; see BANK.md)';

function fail(message) {
  process.stderr.write(`bank: ${message}\n`);
  process.exit(2);
}

// ---- command line, environment, client file ---------------------------------------------------

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      client: { type: 'string' },
      'exit-with-parent': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  }).values;
} catch (e) {
  fail(`${e.message}\n${USAGE}`);
}
if (args.help) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(0);
}
if (!args.client) fail('--client FILE is required');
const PORT = Number(args.port);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) fail(`--port: not a port number: ${args.port}`);
const MODE = process.env.BANK_MODE || 'normal';
if (!MODES.includes(MODE)) fail(`BANK_MODE=${MODE}: expected one of ${MODES.join(', ')}`);
const AUTO_PERSON = process.env.BANK_AUTO_PERSON || undefined;
const VERBOSE = Boolean(process.env.BANK_VERBOSE);
if (AUTO_PERSON !== undefined && !PERSONS[AUTO_PERSON]) {
  fail(`BANK_AUTO_PERSON=${AUTO_PERSON}: expected one of ${Object.keys(PERSONS).join(', ')}`);
}
for (const [id, p] of Object.entries(PERSONS)) {
  if (!validHetu(p.personal_identity_code, p.birthdate)) fail(`test person ${id}: not a valid identity code of the test series (900-999)`);
}

const ENC_ALGS = ['RSA-OAEP', 'RSA-OAEP-256'];
const ENC_ENCS = ['A128CBC-HS256', 'A256GCM'];
const SIGN_ALGS = ['RS256', 'PS256', 'ES256'];
const CLIENT_FIELDS = ['client_id', 'client_name', 'redirect_uris', 'jwks', 'jwks_uri',
  'id_token_encrypted_response_alg', 'id_token_encrypted_response_enc', 'userinfo_signed_response_alg',
  'userinfo_encrypted_response_alg', 'userinfo_encrypted_response_enc', 'request_object_signing_alg',
  'token_endpoint_auth_signing_alg'];

/** The client registration: the file's values, FTN values where the file says nothing. */
function loadClient(file) {
  let c;
  try {
    c = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`--client ${file}: ${e.message}`);
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) fail(`--client ${file}: not a JSON object`);
  const unknown = Object.keys(c).filter((k) => !k.startsWith('_') && !CLIENT_FIELDS.includes(k));
  if (unknown.length) fail(`--client ${file}: unknown field(s) ${unknown.join(', ')} (known: ${CLIENT_FIELDS.join(', ')})`);
  if (typeof c.client_id !== 'string' || !c.client_id) fail('client file: client_id must be a non-empty string');
  if (!Array.isArray(c.redirect_uris) || !c.redirect_uris.length || !c.redirect_uris.every((u) => typeof u === 'string')) {
    fail('client file: redirect_uris must be a non-empty array of strings');
  }
  if ((c.jwks === undefined) === (c.jwks_uri === undefined)) fail('client file: give exactly one of jwks, jwks_uri');
  if (c.jwks !== undefined) {
    if (!Array.isArray(c.jwks?.keys)) fail('client file: jwks must be {"keys": [...]}');
    if (c.jwks.keys.some((k) => k.d !== undefined || k.k !== undefined)) fail('client file: jwks must hold public keys only');
  }
  const has = (k) => Object.hasOwn(c, k);
  const idAlg = c.id_token_encrypted_response_alg ?? 'RSA-OAEP';
  const idEnc = c.id_token_encrypted_response_enc ?? 'A128CBC-HS256';
  const reg = {
    client_id: c.client_id,
    ...(c.client_name ? { client_name: c.client_name } : {}),
    redirect_uris: c.redirect_uris,
    ...(c.jwks ? { jwks: c.jwks } : { jwks_uri: c.jwks_uri }),
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: c.token_endpoint_auth_signing_alg ?? 'RS256',
    require_signed_request_object: true,
    request_object_signing_alg: c.request_object_signing_alg ?? 'RS256',
    id_token_signed_response_alg: 'RS256',
    id_token_encrypted_response_alg: idAlg,
    id_token_encrypted_response_enc: idEnc,
    require_auth_time: true,
    // Absent: FTN (signed and encrypted like the ID token). null: switched off.
    userinfo_signed_response_alg: has('userinfo_signed_response_alg') ? c.userinfo_signed_response_alg : 'RS256',
    userinfo_encrypted_response_alg: has('userinfo_encrypted_response_alg') ? c.userinfo_encrypted_response_alg : idAlg,
    userinfo_encrypted_response_enc: has('userinfo_encrypted_response_enc') ? c.userinfo_encrypted_response_enc : idEnc,
  };
  if (reg.userinfo_encrypted_response_alg == null) reg.userinfo_encrypted_response_enc = null;
  if (reg.userinfo_encrypted_response_alg != null && reg.userinfo_signed_response_alg == null) {
    fail('client file: userinfo_encrypted_response_alg needs userinfo_signed_response_alg (the bank encrypts a signed userinfo JWT)');
  }
  for (const k of Object.keys(reg)) if (reg[k] === null) delete reg[k];
  // Checked here as well as by oidc-provider, which in the rewrite modes never sees the
  // encryption settings (see `internal` below).
  const allowed = {
    id_token_encrypted_response_alg: ENC_ALGS, id_token_encrypted_response_enc: ENC_ENCS,
    userinfo_encrypted_response_alg: ENC_ALGS, userinfo_encrypted_response_enc: ENC_ENCS,
    userinfo_signed_response_alg: ['RS256'],
    request_object_signing_alg: SIGN_ALGS, token_endpoint_auth_signing_alg: SIGN_ALGS,
  };
  for (const [k, values] of Object.entries(allowed)) {
    if (reg[k] !== undefined && !values.includes(reg[k])) fail(`client file: ${k} ${JSON.stringify(reg[k])} is not one of ${values.join(', ')}`);
  }
  if (reg.jwks) {
    for (const alg of new Set([reg.id_token_encrypted_response_alg, reg.userinfo_encrypted_response_alg])) {
      if (alg && !findEncryptionKey(reg.jwks, alg)) fail(`client file: jwks has no RSA key for encryption with ${alg} (kty RSA, use enc or none, alg ${alg} or none)`);
    }
  }
  return reg;
}

const registered = loadClient(args.client);
// What oidc-provider itself is told: in the rewrite modes it hands over the artefact unencrypted,
// the rewrite changes one thing and then encrypts it exactly as the registration asks.
const internal = { ...registered };
if (MODE === 'plain-id-token' || ID_TOKEN_REWRITES.includes(MODE)) {
  delete internal.id_token_encrypted_response_alg;
  delete internal.id_token_encrypted_response_enc;
}
if (MODE === 'userinfo-sub') {
  delete internal.userinfo_encrypted_response_alg;
  delete internal.userinfo_encrypted_response_enc;
}

// ---- the bank's keys ----------------------------------------------------------------------------

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKey = crypto.createPublicKey(privateKey);
const bankJwk = privateKey.export({ format: 'jwk' });
bankJwk.kid = await jose.calculateJwkThumbprint(publicKey.export({ format: 'jwk' }));
bankJwk.use = 'sig';
bankJwk.alg = 'RS256';

// ---- server ------------------------------------------------------------------------------------

let log = (line) => process.stderr.write(`bank: ${line}\n`);
const server = http.createServer();
server.on('error', (e) => fail(`listen ${HOST}:${PORT}: ${e.message}`));
server.listen(PORT, HOST, async () => {
  const port = server.address().port;
  log = (line) => process.stderr.write(`bank[${port}${MODE === 'normal' ? '' : ` ${MODE}`}]: ${line}\n`);
  const issuer = `http://${HOST}:${port}`;
  const provider = makeProvider(issuer);
  try {
    await provider.Client.find(registered.client_id); // validates the registration now, not at the first request
  } catch (e) {
    fail(`client file: ${e.error_description ?? e.message}`);
  }
  const oidc = provider.callback();
  server.on('request', (req, res) => {
    if (VERBOSE) {
      // Written when the request arrives, before anything else happens to it: a test that sends
      // a request of its own and waits for its line knows that every earlier request's line is
      // already there (stderr is a pipe, which node writes synchronously).
      log(`request ${req.method} ${req.url.split('?')[0]}`);
      const started = Date.now();
      res.on('finish', () => log(`${req.method} ${req.url.split('?')[0]} -> ${res.statusCode} (${Date.now() - started} ms)`));
    }
    if (/^\/auth(\/|\?|$)/.test(req.url) && req.headers.cookie) {
      // A bank authenticates on every authorization request: its own session cookie is never
      // presented to oidc-provider, so there is no single sign-on and no "switch account" page.
      req.headers.cookie = req.headers.cookie.split(/;\s*/).filter((c) => !c.startsWith('_session')).join('; ');
    }
    if (req.url.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((err) => {
        log(`interaction failed: ${err.name}: ${err.error_description ?? err.message}`);
        if (!res.headersSent) {
          res.statusCode = err.statusCode ?? 500;
          res.setHeader('content-type', 'text/plain; charset=utf-8');
        }
        res.end(`${err.name}: ${err.error_description ?? err.message}\n`);
      });
    } else {
      oidc(req, res);
    }
  });
  writeStdout(`listening ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); process.exit(0); });
if (args['exit-with-parent']) {
  // For test harnesses: a bank whose test process died (and so got re-parented) stops too.
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
  // unref: the interval alone must not keep the process alive; the server does that.
}

function makeProvider(issuer) {
  const seenRequestObjectJti = new Map(); // jti -> exp (seconds)

  const provider = new Provider(issuer, {
    clients: [internal],
    jwks: { keys: [bankJwk] },
    responseTypes: ['code'],
    clientAuthMethods: ['private_key_jwt'],
    acrValues: [LOA2, LOA3],
    conformIdTokenClaims: false, // FTN banks put the identity in the ID token itself
    claims: {
      openid: ['sub'],
      acr: null,
      profile: ['name', 'given_name', 'family_name', 'birthdate'],
      personal_identity_code: ['personal_identity_code'],
    },
    extraParams: ['ftn_idp_id', 'ftn_spname'],
    pkce: { required: () => true },
    async assertJwtClientAuthClaimsAndHeader(ctx, claims, header, client) {
      // FTN: kid in the header, sub = iss = client_id, a short-lived assertion.
      if (!header.kid) throw new errors.InvalidClientAuth('client_assertion header must carry a kid');
      if (claims.sub !== client.clientId) throw new errors.InvalidClientAuth('client_assertion sub must be the client_id');
      if (claims.exp > Math.floor(Date.now() / 1000) + 600) {
        throw new errors.InvalidClientAuth('client_assertion exp must be at most 600 s ahead');
      }
    },
    features: {
      devInteractions: { enabled: false },
      requestObjects: {
        enabled: true,
        requireSignedRequestObject: true,
        async assertJwtClaimsAndHeader(ctx, claims) {
          // Stricter than oidc-provider's default, as FTN OPs are: these must all be present,
          // and a jti is accepted once.
          for (const c of ['iss', 'aud', 'exp', 'iat', 'jti']) {
            if (claims[c] === undefined) throw new errors.InvalidRequestObject(`Request Object is missing the '${c}' claim`);
          }
          const now = Math.floor(Date.now() / 1000);
          for (const [jti, exp] of seenRequestObjectJti) if (exp < now - 60) seenRequestObjectJti.delete(jti);
          if (seenRequestObjectJti.has(claims.jti)) throw new errors.InvalidRequestObject('Request Object jti was already used');
          seenRequestObjectJti.set(claims.jti, claims.exp);
        },
      },
      encryption: { enabled: true },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
    },
    enabledJWA: {
      requestObjectSigningAlgValues: SIGN_ALGS,
      clientAuthSigningAlgValues: SIGN_ALGS,
      idTokenSigningAlgValues: ['RS256'],
      idTokenEncryptionAlgValues: ENC_ALGS,
      idTokenEncryptionEncValues: ENC_ENCS,
      userinfoSigningAlgValues: ['RS256'],
      userinfoEncryptionAlgValues: ENC_ALGS,
      userinfoEncryptionEncValues: ENC_ENCS,
    },
    async findAccount(ctx, id) {
      const p = PERSONS[id];
      if (!p) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...p }; } };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
    // oidc-provider refuses to fetch from loopback (SSRF protection); a client jwks_uri on
    // 127.0.0.1 is the point here, so its dispatcher is dropped.
    fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
    renderError(ctx, out, error) {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `bank error: ${out.error}: ${out.error_description ?? ''}\n`;
    },
  });
  provider.proxy = false;

  for (const event of ['authorization.error', 'grant.error', 'userinfo.error', 'server_error', 'discovery.error', 'jwks.error']) {
    provider.on(event, (ctx, err) => log(`${event}: ${err.error ?? err.name}: ${err.error_description ?? err.message}`
      + (err.cause?.message ? ` (${err.cause.message})` : '')));
  }

  // The rewrite modes: oidc-provider did the whole request for real (client assertion, PKCE, code
  // used once, access token); this changes exactly one thing in what it produced.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status !== 200 || !ctx.oidc) return;
    if (ctx.oidc.route === 'token' && ID_TOKEN_REWRITES.includes(MODE) && ctx.body?.id_token) {
      ctx.body.id_token = await rewriteIdToken(ctx.body.id_token);
    } else if (ctx.oidc.route === 'userinfo' && MODE === 'userinfo-sub') {
      ctx.body = await rewriteUserinfo(ctx.body);
    }
  });

  async function rewriteIdToken(jws) {
    const header = jose.decodeProtectedHeader(jws);
    const claims = jose.decodeJwt(jws);
    let token;
    switch (MODE) {
      case 'alg-none':
        token = `${b64(JSON.stringify({ ...header, alg: 'none' }))}.${b64(JSON.stringify(claims))}.`;
        break;
      case 'hs256-pubkey': // key confusion: HMAC keyed with the bank's public key, PEM SPKI bytes
        token = await sign(claims, { ...header, alg: 'HS256' }, Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })));
        break;
      case 'unknown-kid':
        token = await sign(claims, { ...header, kid: 'no-such-kid' }, privateKey);
        break;
      case 'expired':
        for (const c of ['iat', 'exp', 'auth_time']) if (typeof claims[c] === 'number') claims[c] -= EXPIRED_SHIFT;
        token = await sign(claims, header, privateKey);
        break;
      case 'wrong-nonce':
        token = await sign({ ...claims, nonce: WRONG_NONCE }, header, privateKey);
        break;
      case 'wrong-aud':
        token = await sign({ ...claims, aud: WRONG_AUD }, header, privateKey);
        break;
      case 'wrong-iss':
        token = await sign({ ...claims, iss: WRONG_ISS }, header, privateKey);
        break;
      default:
        throw new Error(`no ID token rewrite for ${MODE}`);
    }
    log(`${MODE}: ID token rewritten`);
    return encryptFor(token, jose.decodeJwt(token), registered.id_token_encrypted_response_alg, registered.id_token_encrypted_response_enc);
  }

  async function rewriteUserinfo(body) {
    log(`${MODE}: userinfo sub rewritten`);
    if (typeof body !== 'string') return { ...body, sub: WRONG_SUB }; // plain JSON userinfo
    const header = jose.decodeProtectedHeader(body);
    const claims = { ...jose.decodeJwt(body), sub: WRONG_SUB };
    const token = await sign(claims, header, privateKey);
    if (!registered.userinfo_encrypted_response_alg) return token;
    return encryptFor(token, claims, registered.userinfo_encrypted_response_alg, registered.userinfo_encrypted_response_enc);
  }

  // As oidc-provider encrypts (lib/models/id_token.js): header alg, enc, cty JWT, kid of the
  // client's encryption key, iss and aud replicated from the claims.
  async function encryptFor(token, claims, alg, enc) {
    const key = await clientEncryptionKey(alg);
    return new jose.CompactEncrypt(Buffer.from(token))
      .setProtectedHeader({ alg, enc, cty: 'JWT', ...(key.kid ? { kid: key.kid } : {}), iss: claims.iss, aud: claims.aud })
      .encrypt(await jose.importJWK(key, alg));
  }
  return provider;
}

async function clientEncryptionKey(alg) {
  const jwks = registered.jwks ?? await (await fetch(registered.jwks_uri)).json();
  const key = findEncryptionKey(jwks, alg);
  if (!key) throw new Error(`client jwks has no RSA encryption key for ${alg}`);
  return key;
}

function findEncryptionKey(jwks, alg) {
  return jwks.keys?.find((k) => k.kty === 'RSA' && (k.use ?? 'enc') === 'enc' && (k.alg ?? alg) === alg);
}

function sign(claims, header, key) {
  return new jose.CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(header).sign(key);
}

function b64(s) {
  return Buffer.from(s).toString('base64url');
}

function validHetu(code, birthdate) {
  const m = /^(\d\d)(\d\d)(\d\d)([-+YXWVUABCDEF])(\d{3})([0-9A-Y])$/.exec(code);
  if (!m) return false;
  const [, dd, mm, yy, sign, nnn, check] = m;
  const n = Number(nnn);
  const century = sign === '+' ? '18' : '-YXWVU'.includes(sign) ? '19' : '20';
  return n >= 900 && n <= 999
    && '0123456789ABCDEFHJKLMNPRSTUVWXY'[Number(`${dd}${mm}${yy}${nnn}`) % 31] === check
    && birthdate === `${century}${yy}-${mm}-${dd}`;
}

// ---- the bank's login page ----------------------------------------------------------------------

const TEXT = {
  fi: { title: 'Testipankki', lead: 'Tunnistaudu palveluun', who: 'Valitse testihenkilö', cancel: 'Peruuta' },
  sv: { title: 'Testbanken', lead: 'Identifiera dig för tjänsten', who: 'Välj en testperson', cancel: 'Avbryt' },
  en: { title: 'Test bank', lead: 'Identify yourself to the service', who: 'Choose a test person', cancel: 'Cancel' },
};

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw Object.assign(new Error('form too large'), { statusCode: 413 });
  }
  return new URLSearchParams(body);
}

async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const finish = async (personId) => {
    const requested = String(details.params.acr_values ?? '').split(' ');
    const acr = MODE === 'low-acr' ? LOA2 : (requested.includes(LOA3) ? LOA3 : LOA2);
    const grant = new provider.Grant({ accountId: personId, clientId: details.params.client_id });
    const { missingOIDCScope, missingOIDCClaims } = details.prompt.details;
    grant.addOIDCScope(missingOIDCScope ? missingOIDCScope.join(' ') : String(details.params.scope));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    const grantId = await grant.save();
    log(`login ${personId} acr ${acr.slice(acr.lastIndexOf('/') + 1)}`);
    await provider.interactionFinished(req, res,
      { login: { accountId: personId, acr }, consent: { grantId } }, { mergeWithLastSubmission: false });
  };
  if (req.method === 'GET' && AUTO_PERSON) return finish(AUTO_PERSON);
  if (req.method === 'POST') {
    const form = await readForm(req);
    if (form.get('action') === 'cancel') {
      log('login cancelled by the user');
      return provider.interactionFinished(req, res,
        { error: 'access_denied', error_description: 'the user cancelled the login' }, { mergeWithLastSubmission: false });
    }
    if (!PERSONS[form.get('person')]) {
      res.statusCode = 400;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      return res.end('unknown person\n');
    }
    return finish(form.get('person'));
  }
  if (req.method !== 'GET') {
    res.statusCode = 405;
    return res.end();
  }
  const lang = String(details.params.ui_locales ?? '').split(' ').find((l) => TEXT[l]) ?? 'fi';
  const t = TEXT[lang];
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const acr = String(details.params.acr_values ?? '');
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(`<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${t.title}</title>
<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}button{display:block;width:100%;margin:.4em 0;padding:.6em;font-size:1em}</style>
</head><body>
<h1>${t.title}</h1>
<p>${t.lead}: <strong data-sp>${esc(details.params.ftn_spname ?? details.params.client_id)}</strong></p>
<p><small>${esc(provider.issuer)}${MODE === 'normal' ? '' : ` &middot; BANK_MODE=${esc(MODE)}`}${acr ? ` &middot; ${esc(acr)}` : ''}</small></p>
<form method="post" action="/interaction/${esc(details.uid)}">
<p>${t.who}</p>
${Object.entries(PERSONS).map(([id, p]) => `<button type="submit" name="person" value="${esc(id)}" data-person="${esc(id)}">${esc(p.name)} (${esc(p.personal_identity_code)})</button>`).join('\n')}
<button type="submit" name="action" value="cancel" data-action="cancel">${t.cancel}</button>
</form>
</body></html>
`);
}
