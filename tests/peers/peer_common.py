"""Shared CLI plumbing for the Python SP drivers (python3_saml_sp.py, pysaml2_sp.py).

Only argument parsing, config loading and JSON output live here; every SAML
operation (metadata, request building, signing, response validation) is done
by the SAML library of the driver itself.

Contract (identical for the Node driver):
  DRIVER metadata --config F
  DRIVER authn    --config F --binding redirect|post [--relay-state RS]
                  [--force-authn] [--is-passive] [--name-id-format persistent|transient]
  DRIVER validate --config F --request-id ID --saml-response B64 [--relay-state RS]
  DRIVER logout   --config F --name-id X --name-id-format persistent|transient
                  --session-index S [--relay-state RS]
      an SP-initiated LogoutRequest, signed by the library for HTTP-Redirect to idp_slo_url:
      {"request_id", "binding": "redirect", "url", "signed": true}
  DRIVER slo      --config F --url URL [--request-id ID]
      URL: where the IdP sent the browser at the SP's slo_url (query: SAMLRequest or
      SAMLResponse, RelayState, SigAlg, Signature). The query signature is required.
      LogoutRequest:  {"ok": true, "kind": "request", "name_id", "session_indexes": [...],
                       "response_url": the signed Redirect URL of the LogoutResponse}
      LogoutResponse (--request-id required, else exit 2): {"ok": true, "kind": "response",
                       "status": top-level URI, "sub_status": second-level URI or null};
                       a top-level status other than Success is a refusal whose error ends
                       with [status: top / sub].
Config keys (JSON): entity_id, acs_url, sp_key_file, sp_cert_file, authn_requests_signed, and
either idp_entity_id + idp_sso_url + idp_cert_pem_file or idp_metadata_file; optional
want_assertions_encrypted, slo_url (the SP's own SingleLogoutService, HTTP-Redirect: declared
in its metadata; logout and slo need it) and idp_slo_url (the IdP's SingleLogoutService when
the IdP is configured by fields; with idp_metadata_file it is read from the metadata).
Exit 0 on success; validate and slo exit 1 with {"ok": false, "refused": true, "error": REASON}
on refusal (an error starting "driver:" is a check the driver makes where its library makes
none, named in the driver's header); anything else (bad usage, crash) exits 2 or more. A crash
is an exception the driver does not know as the library's way of refusing (TypeError, KeyError,
a missing module, ...): it prints {"ok": false, "refused": false, "error": "error: TYPE: MESSAGE"}
and exits 3, never 1, so a broken library or driver can never pass for a refusal. Importing this
module first installs that rule for import-time failures too (Python itself would exit 1 on an
uncaught exception).
"""

import argparse
import json
import os
import sys
import traceback
from urllib.parse import parse_qsl, urlsplit

NAMEID_FORMATS = {
    "persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
}
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"

CONFIG_KEYS = (
    "entity_id",
    "acs_url",
    "sp_key_file",
    "sp_cert_file",
    "authn_requests_signed",
)


CRASH_EXIT = 3


class Refused(Exception):
    """The library refused the Response: validate exits 1 with this message."""


class Usage(Exception):
    """A usage error found after parsing (e.g. a LogoutResponse without --request-id): exit 2."""


def crash_report(e):
    """The one-line JSON a crash prints: never mistakable for a refusal."""
    return json.dumps({"ok": False, "refused": False, "error": "error: %s: %s" % (type(e).__name__, e)})


def _exit_on_uncaught(kind, value, tb):
    # Python exits 1 after an uncaught exception, which is a refusal's code: a library that fails
    # to import (or any exception outside run()) must exit CRASH_EXIT instead.
    traceback.print_exception(kind, value, tb, file=sys.stderr)
    sys.stdout.write(crash_report(value) + "\n")
    sys.stdout.flush()
    os._exit(CRASH_EXIT)


sys.excepthook = _exit_on_uncaught


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("metadata")
    m.add_argument("--config", required=True)
    a = sub.add_parser("authn")
    a.add_argument("--config", required=True)
    a.add_argument("--binding", required=True, choices=["redirect", "post"])
    a.add_argument("--relay-state")
    a.add_argument("--force-authn", action="store_true")
    a.add_argument("--is-passive", action="store_true")
    a.add_argument("--name-id-format", choices=sorted(NAMEID_FORMATS))
    v = sub.add_parser("validate")
    v.add_argument("--config", required=True)
    v.add_argument("--request-id", required=True)
    v.add_argument("--saml-response", required=True)
    v.add_argument("--relay-state")
    lo = sub.add_parser("logout")
    lo.add_argument("--config", required=True)
    lo.add_argument("--name-id", required=True)
    lo.add_argument("--name-id-format", required=True, choices=sorted(NAMEID_FORMATS))
    lo.add_argument("--session-index", required=True)
    lo.add_argument("--relay-state")
    s = sub.add_parser("slo")
    s.add_argument("--config", required=True)
    s.add_argument("--url", required=True)
    s.add_argument("--request-id")
    return p.parse_args(argv)


def load_config(path):
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise ValueError("config %s lacks %s" % (path, ", ".join(missing)))
    has_fields = all(cfg.get(k) for k in ("idp_entity_id", "idp_sso_url", "idp_cert_pem_file"))
    if not has_fields and not cfg.get("idp_metadata_file"):
        raise ValueError("config needs idp_entity_id + idp_sso_url + idp_cert_pem_file, or idp_metadata_file")
    return cfg


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def pem_body(pem):
    """Base64 body of the first PEM block (no armour, no whitespace)."""
    lines = [ln.strip() for ln in pem.strip().splitlines()]
    out, inside = [], False
    for ln in lines:
        if ln.startswith("-----BEGIN"):
            inside = True
            continue
        if ln.startswith("-----END"):
            break
        if inside:
            out.append(ln)
    return "".join(out)


def acs_request_data(acs_url, post_data):
    """A request_data dict (python3-saml style) whose "current URL" is exactly acs_url."""
    u = urlsplit(acs_url)
    return {
        "https": "on" if u.scheme == "https" else "off",
        "http_host": u.netloc,
        "script_name": u.path,
        "get_data": {},
        "post_data": post_data,
    }


def need_slo(cfg, *keys):
    """The optional SLO config keys a logout subcommand needs."""
    missing = [k for k in keys if not cfg.get(k)]
    if missing:
        raise Usage("config lacks %s (needed for single logout)" % ", ".join(missing))


def split_slo_url(cfg, url):
    """(query string as received, decoded parameters) of a URL at the SP's slo_url.

    The SP only listens at slo_url: a URL elsewhere is refused by the driver (the libraries
    check Destination against the URL they are told they were reached at, which is slo_url).
    A parameter given twice is refused too (which one would a web framework pick?).
    """
    need_slo(cfg, "slo_url")
    u = urlsplit(url)
    s = urlsplit(cfg["slo_url"])
    if (u.scheme, u.netloc, u.path) != (s.scheme, s.netloc, s.path):
        raise Refused("driver: %s is not at this SP's slo_url %s" % (url, cfg["slo_url"]))
    params = parse_qsl(u.query, keep_blank_values=True)
    names = [k for k, _ in params]
    dup = sorted({k for k in names if names.count(k) > 1})
    if dup:
        raise Refused("driver: query parameter(s) %s given more than once" % ", ".join(dup))
    return u.query, dict(params)


def slo_request_data(cfg, query, get_data):
    """A python3-saml style request_data for a GET at slo_url carrying this query."""
    d = acs_request_data(cfg["slo_url"], {})
    d["get_data"] = get_data
    d["query_string"] = query
    return d


def emit(obj, code=0):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()
    sys.exit(code)


def run(handlers, argv=None):
    """Dispatch to handlers[cmd](args, cfg). A Refused exits 1, a Usage 2; any other exception exits 3."""
    args = parse_args(argv)
    try:
        cfg = load_config(args.config)
        result = handlers[args.cmd](args, cfg)
    except Refused as e:
        emit({"ok": False, "refused": True, "error": str(e)}, 1)
    except Usage as e:
        sys.stderr.write("usage: %s\n" % e)
        sys.exit(2)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - a crash must be loud and non-zero
        traceback.print_exc(file=sys.stderr)
        sys.stdout.write(crash_report(e) + "\n")
        sys.exit(CRASH_EXIT)
    if isinstance(result, str):
        sys.stdout.write(result if result.endswith("\n") else result + "\n")
        sys.exit(0)
    emit(result, 0)
