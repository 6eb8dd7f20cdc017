#!/usr/bin/env node
// SAML SP driven by @node-saml/node-saml (the `SAML` class), for the end-to-end suite.
//
// Contract (identical for all drivers, see peer_common.py):
//   node node_saml_sp.js metadata --config F
//   node node_saml_sp.js authn    --config F --binding redirect|post [--relay-state RS]
//                                 [--force-authn] [--is-passive] [--name-id-format persistent|transient]
//   node node_saml_sp.js validate --config F --request-id ID --saml-response B64 [--relay-state RS]
//   node node_saml_sp.js logout   --config F --name-id X --name-id-format persistent|transient
//                                 --session-index S [--relay-state RS]
//   node node_saml_sp.js slo      --config F --url URL [--request-id ID]
// (outputs: see peer_common.py). Exit 0 on success; validate and slo exit 1 with
// {"ok": false, "refused": true, "error": ...} on refusal;
// usage errors exit 2; a crash (an exception node-saml does not throw to refuse: TypeError,
// ReferenceError, a missing module, ...) prints {"ok": false, "refused": false, "error": "error: ..."}
// and exits 3, never 1, so a broken library can never pass for a refusal.
//
// Single logout. Options: logoutUrl = the IdP's Redirect SingleLogoutService (idp_slo_url, or
// from the IdP metadata), logoutCallbackUrl = slo_url (metadata), privateKey always set for
// logout and slo so that node-saml signs its LogoutRequest and LogoutResponse (rsa-sha256).
// - logout: SAML.getLogoutUrlAsync with a profile {nameID, nameIDFormat, sessionIndex} from the
//   arguments (node-saml takes these from the logged-in user's profile; no cache is needed).
//   The request ID is the one node-saml stores in its cacheProvider (as for authn).
// - slo: SAML.validateRedirectAsync(query parameters, raw query string): it checks the Issuer
//   (idpIssuer), NotBefore/NotOnOrAfter of a LogoutRequest, a LogoutResponse's status and its
//   InResponseTo against the cacheProvider (the driver puts --request-id there, as validate
//   does), and the query signature over the raw query octets with the IdP certificate(s).
//   For a LogoutRequest the signed LogoutResponse comes from getLogoutResponseUrlAsync(profile,
//   RelayState, {}, true) (Success, InResponseTo = the request's ID).
// - What node-saml does not do, and the driver's answer: it verifies a Redirect signature only
//   when there is one and has no option to require it, so the driver refuses a message without
//   Signature or SigAlg before the library sees it ("driver:" refusal). It checks neither the
//   Destination of a LogoutRequest or LogoutResponse (known gap, not patched by the driver),
//   nor InResponseTo when a LogoutResponse carries none (known gap). It reads only the first
//   SessionIndex of a LogoutRequest (session_indexes has at most one element) and reports no
//   second-level status: sub_status is read (xmldom/xpath, node-saml's own stack) from the
//   LogoutResponse node-saml accepted.
// - Metadata: node-saml's generator writes the SingleLogoutService with Binding HTTP-POST; the
//   driver, which takes logout messages over HTTP-Redirect only, sets Binding to HTTP-Redirect.
"use strict";

const CRASH_EXIT = 3;
function crashReport(e) {
  const name = (e && e.constructor && e.constructor.name) || typeof e;
  return JSON.stringify({ ok: false, refused: false, error: `error: ${name}: ${e && e.message ? e.message : String(e)}` });
}
// Before any require: Node exits 1 (a refusal's code) on an uncaught exception, e.g. a missing module.
process.on("uncaughtException", (e) => {
  process.stderr.write(((e && e.stack) || String(e)) + "\n");
  process.stdout.write(crashReport(e) + "\n", () => process.exit(CRASH_EXIT));
});

const fs = require("fs");
const path = require("path");
const { SAML, generateServiceProviderMetadata, ValidateInResponseTo } = require("@node-saml/node-saml");

// node-saml's own XML stack (transitive dependencies, pinned by package-lock.json).
const nodeSamlDir = path.dirname(require.resolve("@node-saml/node-saml"));
const xmldom = require(require.resolve("@xmldom/xmldom", { paths: [nodeSamlDir] }));
const xpath = require(require.resolve("xpath", { paths: [nodeSamlDir] }));

const NAMEID_FORMATS = {
  persistent: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
  transient: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
};
const BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success";
const NS = {
  md: "urn:oasis:names:tc:SAML:2.0:metadata",
  ds: "http://www.w3.org/2000/09/xmldsig#",
  samlp: "urn:oasis:names:tc:SAML:2.0:protocol",
  saml: "urn:oasis:names:tc:SAML:2.0:assertion",
};

class UsageError extends Error {}
const CMDS = ["metadata", "authn", "validate", "logout", "slo"];
class Refused extends Error {}

// What node-saml throws to refuse a Response: a plain Error (signature, conditions, InResponseTo,
// audience), its SamlStatusError for a non-Success Status, and the XML parser's ParseError.
// TypeError, ReferenceError, RangeError and the like are crashes.
const REFUSAL_ERRORS = new Set(["Error", "SamlStatusError", "ErrorWithXmlStatus", "ParseError"]);
function isRefusal(e) {
  return e instanceof Error && REFUSAL_ERRORS.has(e.constructor.name);
}

function parseArgs(argv) {
  const cmd = argv[0];
  if (!CMDS.includes(cmd)) throw new UsageError("command must be " + CMDS.join("|"));
  const flags = new Set(["--force-authn", "--is-passive"]);
  const valued = {
    metadata: ["--config"],
    authn: ["--config", "--binding", "--relay-state", "--name-id-format"],
    validate: ["--config", "--request-id", "--saml-response", "--relay-state"],
    logout: ["--config", "--name-id", "--name-id-format", "--session-index", "--relay-state"],
    slo: ["--config", "--url", "--request-id"],
  }[cmd];
  const args = { cmd };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (cmd === "authn" && flags.has(a)) {
      args[a.slice(2)] = true;
    } else if (valued.includes(a)) {
      if (i + 1 >= argv.length) throw new UsageError(a + " needs a value");
      args[a.slice(2)] = argv[++i];
    } else {
      throw new UsageError("unknown argument " + a);
    }
  }
  if (!args.config) throw new UsageError("--config is required");
  if (cmd === "authn" && !["redirect", "post"].includes(args.binding)) throw new UsageError("--binding redirect|post");
  if (cmd === "authn" && args["name-id-format"] && !NAMEID_FORMATS[args["name-id-format"]])
    throw new UsageError("--name-id-format persistent|transient");
  if (cmd === "validate" && (!args["request-id"] || !args["saml-response"]))
    throw new UsageError("--request-id and --saml-response are required");
  if (cmd === "logout" && (!args["name-id"] || !args["session-index"] || !NAMEID_FORMATS[args["name-id-format"]]))
    throw new UsageError("--name-id, --name-id-format persistent|transient and --session-index are required");
  if (cmd === "slo" && !args.url) throw new UsageError("--url is required");
  return args;
}

function readText(p) {
  return fs.readFileSync(p, "utf8");
}

// entityID, Redirect SSO location and signing certificates of the first IdPSSODescriptor.
function idpFromMetadata(file) {
  const doc = new xmldom.DOMParser().parseFromString(readText(file), "text/xml");
  const sel = xpath.useNamespaces(NS);
  const ed = sel("//md:EntityDescriptor[md:IDPSSODescriptor]", doc)[0];
  if (!ed) throw new Error("no IDPSSODescriptor in " + file);
  const sso = sel("md:IDPSSODescriptor/md:SingleSignOnService", ed).find(
    (n) => n.getAttribute("Binding") === BINDING_REDIRECT,
  );
  const slo = sel("md:IDPSSODescriptor/md:SingleLogoutService", ed).find(
    (n) => n.getAttribute("Binding") === BINDING_REDIRECT,
  );
  const certs = sel(
    "md:IDPSSODescriptor/md:KeyDescriptor[not(@use) or @use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate",
    ed,
  ).map((n) => n.textContent.replace(/\s+/g, ""));
  if (!sso || certs.length === 0) throw new Error("IdP metadata lacks a Redirect SSO endpoint or a signing certificate");
  return {
    entityId: ed.getAttribute("entityID"),
    ssoUrl: sso.getAttribute("Location"),
    sloUrl: slo ? slo.getAttribute("Location") : null,
    certs,
  };
}

function loadConfig(file) {
  const cfg = JSON.parse(readText(file));
  for (const k of ["entity_id", "acs_url", "sp_key_file", "sp_cert_file", "authn_requests_signed"]) {
    if (!(k in cfg)) throw new Error(`config ${file} lacks ${k}`);
  }
  if (cfg.idp_entity_id && cfg.idp_sso_url && cfg.idp_cert_pem_file) {
    cfg.idp = {
      entityId: cfg.idp_entity_id,
      ssoUrl: cfg.idp_sso_url,
      sloUrl: cfg.idp_slo_url || null,
      certs: [readText(cfg.idp_cert_pem_file)],
    };
  } else if (cfg.idp_metadata_file) {
    cfg.idp = idpFromMetadata(cfg.idp_metadata_file);
  } else {
    throw new Error("config needs idp_entity_id + idp_sso_url + idp_cert_pem_file, or idp_metadata_file");
  }
  cfg.spKey = readText(cfg.sp_key_file);
  cfg.spCert = readText(cfg.sp_cert_file);
  return cfg;
}

// A CacheProvider that records what the library stores (the request id) and can be preloaded.
class RecordingCache {
  constructor() {
    this.items = new Map();
    this.saved = [];
  }
  async saveAsync(key, value) {
    if (this.items.has(key)) return null;
    this.items.set(key, value);
    this.saved.push(key);
    return { createdAt: Date.now(), value };
  }
  async getAsync(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  async removeAsync(key) {
    if (key == null || !this.items.has(key)) return null;
    this.items.delete(key);
    return key;
  }
}

function samlOptions(cfg, extra) {
  const opts = {
    callbackUrl: cfg.acs_url,
    entryPoint: cfg.idp.ssoUrl,
    issuer: cfg.entity_id,
    audience: cfg.entity_id,
    idpIssuer: cfg.idp.entityId,
    idpCert: cfg.idp.certs.length === 1 ? cfg.idp.certs[0] : cfg.idp.certs,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: ValidateInResponseTo.always,
    signatureAlgorithm: "sha256",
    digestAlgorithm: "sha256",
    acceptedClockSkewMs: 2000,
    // The library's default asks for PasswordProtectedTransport; the IdP picks the LoA instead.
    disableRequestedAuthnContext: true,
    identifierFormat: null,
    ...extra,
  };
  if (cfg.idp.sloUrl) opts.logoutUrl = cfg.idp.sloUrl;
  if (cfg.slo_url) opts.logoutCallbackUrl = cfg.slo_url;
  if (cfg.authn_requests_signed) {
    opts.privateKey = cfg.spKey;
    opts.publicCert = cfg.spCert;
  }
  return opts;
}

function cmdMetadata(cfg) {
  // The library's generator; it emits the signing KeyDescriptor only when it would sign, so it
  // is always given the key, and AuthnRequestsSigned is then set per config.
  const xml = generateServiceProviderMetadata({
    ...samlOptions(cfg, {}),
    privateKey: cfg.spKey,
    publicCerts: [cfg.spCert],
    decryptionPvk: null,
  });
  const doc = new xmldom.DOMParser().parseFromString(xml, "text/xml");
  const spsso = doc.getElementsByTagNameNS(NS.md, "SPSSODescriptor")[0];
  spsso.setAttribute("AuthnRequestsSigned", cfg.authn_requests_signed ? "true" : "false");
  for (const slo of Array.from(spsso.getElementsByTagNameNS(NS.md, "SingleLogoutService"))) {
    slo.setAttribute("Binding", BINDING_REDIRECT);
  }
  return new xmldom.XMLSerializer().serializeToString(doc) + "\n";
}

async function cmdAuthn(cfg, args) {
  const cache = new RecordingCache();
  const post = args.binding === "post";
  const saml = new SAML(
    samlOptions(cfg, {
      cacheProvider: cache,
      forceAuthn: Boolean(args["force-authn"]),
      passive: Boolean(args["is-passive"]),
      identifierFormat: args["name-id-format"] ? NAMEID_FORMATS[args["name-id-format"]] : null,
      // HTTP-POST carries base64 of the XML itself; node-saml deflates unless told not to.
      skipRequestCompression: post,
    }),
  );
  const relayState = args["relay-state"] === undefined ? undefined : args["relay-state"];
  const out = { binding: args.binding, signed: Boolean(cfg.authn_requests_signed) };
  if (post) {
    const msg = await saml.getAuthorizeMessageAsync(relayState, undefined, {});
    out.url = cfg.idp.ssoUrl;
    out.fields = msg;
  } else {
    out.url = await saml.getAuthorizeUrlAsync(relayState, undefined, {});
  }
  if (cache.saved.length !== 1) throw new Error("node-saml stored " + cache.saved.length + " request ids");
  out.request_id = cache.saved[0];
  return out;
}

function statusCodes(b64) {
  try {
    const doc = new xmldom.DOMParser().parseFromString(Buffer.from(b64, "base64").toString("utf8"), "text/xml");
    const sel = xpath.useNamespaces(NS);
    return sel("/samlp:Response/samlp:Status//samlp:StatusCode/@Value", doc).map((a) => a.value);
  } catch (e) {
    return [];
  }
}

async function cmdValidate(cfg, args) {
  const cache = new RecordingCache();
  await cache.saveAsync(args["request-id"], new Date().toISOString());
  const saml = new SAML(samlOptions(cfg, { cacheProvider: cache }));
  const container = { SAMLResponse: args["saml-response"] };
  if (args["relay-state"] !== undefined) container.RelayState = args["relay-state"];
  let result;
  try {
    result = await saml.validatePostResponseAsync(container);
  } catch (e) {
    if (!isRefusal(e)) throw e;
    let msg = "node-saml: " + (e && e.message ? e.message : String(e));
    const codes = statusCodes(args["saml-response"]);
    if (codes.length && codes[0] !== "urn:oasis:names:tc:SAML:2.0:status:Success") msg += ` [status: ${codes.join(" / ")}]`;
    throw new Refused(msg);
  }
  const profile = result && result.profile;
  if (!profile) {
    // node-saml returns no profile (and no error) for a signed NoPassive status Response.
    const codes = statusCodes(args["saml-response"]);
    throw new Refused(`node-saml: no profile (loggedOut=${result && result.loggedOut}) [status: ${codes.join(" / ")}]`);
  }
  const attributes = {};
  for (const [k, v] of Object.entries(profile.attributes || {})) {
    attributes[k] = (Array.isArray(v) ? v : [v]).map((x) => (typeof x === "string" ? x : x == null ? "" : JSON.stringify(x)));
  }
  let authnContext = null;
  try {
    const a = profile.getAssertion().Assertion;
    authnContext = a.AuthnStatement[0].AuthnContext[0].AuthnContextClassRef[0]._ || null;
  } catch (e) {
    authnContext = null;
  }
  return {
    ok: true,
    name_id: profile.nameID ?? null,
    name_id_format: profile.nameIDFormat ?? null,
    session_index: profile.sessionIndex ?? null,
    authn_context: authnContext,
    attributes,
    relay_state: args["relay-state"] ?? null,
  };
}

function sloSaml(cfg, cache) {
  if (!cfg.slo_url) throw new UsageError("config lacks slo_url (needed for single logout)");
  if (!cfg.idp.sloUrl) throw new UsageError("the IdP has no HTTP-Redirect SingleLogoutService (idp_slo_url or its metadata)");
  return new SAML(
    samlOptions(cfg, { cacheProvider: cache, privateKey: cfg.spKey, publicCert: cfg.spCert }),
  );
}

async function cmdLogout(cfg, args) {
  const cache = new RecordingCache();
  const saml = sloSaml(cfg, cache);
  const profile = {
    issuer: cfg.idp.entityId,
    nameID: args["name-id"],
    nameIDFormat: NAMEID_FORMATS[args["name-id-format"]],
    sessionIndex: args["session-index"],
  };
  const url = await saml.getLogoutUrlAsync(profile, args["relay-state"], {});
  if (cache.saved.length !== 1) throw new Error("node-saml stored " + cache.saved.length + " request ids");
  return { request_id: cache.saved[0], binding: "redirect", url, signed: true };
}

// The query of a URL at slo_url, as received, and its parameters (each at most once).
function sloQuery(cfg, url) {
  const u = new URL(url);
  const s = new URL(cfg.slo_url);
  if (u.protocol !== s.protocol || u.host !== s.host || u.pathname !== s.pathname)
    throw new Refused(`driver: ${url} is not at this SP's slo_url ${cfg.slo_url}`);
  const query = u.search.startsWith("?") ? u.search.slice(1) : u.search;
  const params = {};
  for (const [k, v] of u.searchParams) {
    if (k in params) throw new Refused(`driver: query parameter ${k} given more than once`);
    params[k] = v;
  }
  return { query, params };
}

function logoutStatusCodes(b64) {
  // After node-saml accepted the message: its StatusCode values, outermost first.
  const zlib = require("zlib");
  const xml = zlib.inflateRawSync(Buffer.from(b64, "base64")).toString("utf8");
  const doc = new xmldom.DOMParser().parseFromString(xml, "text/xml");
  const sel = xpath.useNamespaces(NS);
  return sel("/samlp:LogoutResponse/samlp:Status//samlp:StatusCode/@Value", doc).map((a) => a.value);
}

async function cmdSlo(cfg, args) {
  if (!cfg.slo_url) throw new UsageError("config lacks slo_url (needed for single logout)");
  const { query, params } = sloQuery(cfg, args.url);
  const isResponse = "SAMLResponse" in params;
  if (!isResponse && !("SAMLRequest" in params)) throw new Refused("driver: neither SAMLRequest nor SAMLResponse in the query");
  if (isResponse && !args["request-id"]) throw new UsageError("a LogoutResponse needs --request-id");
  if (!params.Signature || !params.SigAlg)
    throw new Refused("driver: the logout message has no query signature (SigAlg, Signature); node-saml would not require one");
  const cache = new RecordingCache();
  if (isResponse) await cache.saveAsync(args["request-id"], new Date().toISOString());
  const saml = sloSaml(cfg, cache);
  let result;
  try {
    result = await saml.validateRedirectAsync(params, query);
  } catch (e) {
    if (!isRefusal(e)) throw e;
    let msg = "node-saml: " + (e && e.message ? e.message : String(e));
    if (isResponse) {
      let codes = [];
      try {
        codes = logoutStatusCodes(params.SAMLResponse);
      } catch (_) {
        codes = [];
      }
      if (codes.length && codes[0] !== STATUS_SUCCESS) msg += ` [status: ${codes.join(" / ")}]`;
    }
    throw new Refused(msg);
  }
  if (isResponse) {
    if (!result || !result.loggedOut) throw new Refused("node-saml: LogoutResponse not accepted (loggedOut false)");
    const codes = logoutStatusCodes(params.SAMLResponse);
    return { ok: true, kind: "response", status: codes[0] ?? null, sub_status: codes[1] ?? null };
  }
  const profile = result && result.profile;
  if (!profile) throw new Refused("node-saml: no profile from the LogoutRequest");
  const responseUrl = await saml.getLogoutResponseUrlAsync(profile, params.RelayState, {}, true);
  return {
    ok: true,
    kind: "request",
    name_id: profile.nameID ?? null,
    session_indexes: profile.sessionIndex ? [profile.sessionIndex] : [],
    response_url: responseUrl,
  };
}

function emit(obj, code) {
  process.stdout.write(JSON.stringify(obj) + "\n", () => process.exit(code));
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write("usage: " + e.message + "\n");
    process.exit(2);
  }
  try {
    const cfg = loadConfig(args.config);
    if (args.cmd === "metadata") {
      process.stdout.write(cmdMetadata(cfg), () => process.exit(0));
    } else if (args.cmd === "authn") {
      emit(await cmdAuthn(cfg, args), 0);
    } else if (args.cmd === "logout") {
      emit(await cmdLogout(cfg, args), 0);
    } else if (args.cmd === "slo") {
      emit(await cmdSlo(cfg, args), 0);
    } else {
      emit(await cmdValidate(cfg, args), 0);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write("usage: " + e.message + "\n");
      process.exit(2);
    } else if (e instanceof Refused) {
      emit({ ok: false, refused: true, error: e.message }, 1);
    } else {
      process.stderr.write((e && e.stack) || String(e));
      process.stderr.write("\n");
      process.stdout.write(crashReport(e) + "\n", () => process.exit(CRASH_EXIT));
    }
  }
}

main();
