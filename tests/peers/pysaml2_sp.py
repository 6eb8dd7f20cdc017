#!/usr/bin/env python3
"""SAML SP driven by pysaml2 (saml2.client.Saml2Client).

Usage and output: see peer_common.py (the contract is shared by all drivers).
Run with tests/peers/.venv/bin/python. pysaml2 verifies XML signatures with the
xmlsec1 command-line tool (Debian package xmlsec1), found on PATH.

Single logout (logout, slo). Config: sp endpoints single_logout_service (slo_url, HTTP-Redirect,
published in the metadata), logout_requests_signed and logout_responses_signed (rsa-sha256),
the IdP's SingleLogoutService from its metadata (synthesised from idp_slo_url when the IdP is
configured by fields). What pysaml2 lacks, and what the driver does about it:
- logout: Saml2Client.global_logout/do_logout take the IdP and the SessionIndex from the
  identity cache filled by a login, and put their own RelayState (the request ID and a time,
  signed with the config secret). The driver runs do_logout's two steps itself:
  create_logout_request (NameID with the given Format and value, one SessionIndex, the IdP's
  Redirect SLO location from metadata as Destination) and apply_binding(HTTP-Redirect,
  sign=True, rsa-sha256), with --relay-state or none.
- slo, LogoutRequest: pysaml2 demands a Redirect query signature on a received request only
  when its IdP-side setting want_authn_requests_signed is true (entity._parse_request reads it
  in the "idp" context even in an SP); without it an unsigned or wrongly signed LogoutRequest
  is accepted. The driver sets that setting (config.setattr("idp", ...)) for slo, so
  parse_logout_request refuses a request without SigAlg/Signature or whose signature does not
  verify with the signing certificates of the request Issuer's metadata.
  Saml2Client.handle_logout_request answers Success only when the NameID is in the identity
  cache (local_logout removes it); a one-shot driver has no cache. So the driver first has the
  library parse and verify the request (parse_logout_request), then seeds the cache with that
  verified NameID, issued by the request's Issuer, with the request's SessionIndex, and then
  calls handle_logout_request (which parses and verifies again, logs the subject out of the
  cache and builds the signed LogoutResponse for the IdP's Redirect SLO endpoint).
- slo, LogoutResponse: parse_logout_request_response checks an embedded XML signature when
  there is one but never a Redirect query signature, ignores the result of verify()
  (Destination, InResponseTo), and has no InResponseTo to compare with (LogoutResponse is made
  with request_id 0; handle_logout_response looks InResponseTo up in the client state a
  do_logout filled). The driver: requires SigAlg and Signature ("driver:" refusal when absent)
  and verifies them with the library's saml2.sigver.verify_redirect_signature against the
  signing certificates of the Issuer's metadata; sets the response's request_id to
  --request-id and calls verify() again, refusing when it returns None (pysaml2's reason is in
  its error log); refuses an InResponseTo that is not --request-id (also when absent).
- pysaml2 verifies a Redirect signature over the query re-encoded from the decoded values
  (urllib's quote_plus, upper-case hex), not over the octets received: an IdP that encodes
  otherwise is refused by pysaml2 although its signature is right.
"""

import base64
import html.parser
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# First, so that a library that fails to import exits as a crash (3), not as a refusal (1).
import peer_common as pc  # noqa: E402

import saml2  # noqa: E402
import saml2.response  # noqa: E402
import saml2.s_utils  # noqa: E402
import saml2.sigver  # noqa: E402
import saml2.validate  # noqa: E402
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402
from saml2.metadata import create_metadata_string  # noqa: E402
from saml2.mdstore import locations  # noqa: E402
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, NameID  # noqa: E402
from saml2.sigver import get_xmlsec_binary, verify_redirect_signature  # noqa: E402
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256  # noqa: E402

# What pysaml2 raises to refuse a Response: its SAMLError family (signature, status, unsolicited,
# verification), its other validation exceptions, and a bare Exception, which is how it refuses
# an AudienceRestriction. A subclass of Exception outside these (TypeError, KeyError, ...) is a
# crash of the library or the driver, never a refusal.
REFUSALS = (saml2.SAMLError, saml2.Error, saml2.response.NotValid, saml2.s_utils.SamlException,
            saml2.sigver.CertificateError, saml2.sigver.XMLSchemaError, saml2.validate.NotValid,
            saml2.validate.OutsideCardinality, saml2.validate.MustValueError, saml2.validate.ShouldValueError,
            saml2.validate.ResponseLifetimeExceed, saml2.validate.ToEarly,
            # A LogoutRequest not destined for this SP (Request._verify), or of another version.
            saml2.s_utils.OtherError, saml2.s_utils.VersionMismatch)


def is_refusal(e):
    return isinstance(e, REFUSALS) or type(e) is Exception

BINDINGS = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}


def synth_idp_metadata(cfg):
    """IdP metadata built from the explicit config fields (used when no idp_metadata_file is given)."""
    from xml.sax.saxutils import quoteattr, escape

    cert = pc.pem_body(pc.read_text(cfg["idp_cert_pem_file"]))
    slo = "".join(
        '<md:SingleLogoutService Binding=%s Location=%s/>' % (quoteattr(b), quoteattr(cfg["idp_slo_url"]))
        for b in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)
    ) if cfg.get("idp_slo_url") else ""
    sso = slo + "".join(
        '<md:SingleSignOnService Binding=%s Location=%s/>' % (quoteattr(b), quoteattr(cfg["idp_sso_url"]))
        for b in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)
    )
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID=%s>'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" '
        'WantAuthnRequestsSigned="false">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s'
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>%s"
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    ) % (quoteattr(cfg["idp_entity_id"]), escape(cert), sso)


def sp_config(cfg, slo=False):
    if cfg.get("idp_metadata_file"):
        metadata = {"local": [cfg["idp_metadata_file"]]}
    else:
        metadata = {"inline": [synth_idp_metadata(cfg)]}
    endpoints = {"assertion_consumer_service": [(cfg["acs_url"], BINDING_HTTP_POST)]}
    if cfg.get("slo_url"):
        endpoints["single_logout_service"] = [(cfg["slo_url"], BINDING_HTTP_REDIRECT)]
    conf = {
        "entityid": cfg["entity_id"],
        "key_file": cfg["sp_key_file"],
        "cert_file": cfg["sp_cert_file"],
        "xmlsec_binary": get_xmlsec_binary(["/usr/bin", "/usr/local/bin"]),
        "metadata": metadata,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        # Seconds of clock skew tolerated on NotBefore / NotOnOrAfter.
        "accepted_time_diff": 2,
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "endpoints": endpoints,
                "authn_requests_signed": bool(cfg["authn_requests_signed"]),
                "want_assertions_signed": True,
                "want_response_signed": False,
                "want_assertions_or_response_signed": True,
                "allow_unsolicited": False,
                # NameIDPolicy AllowCreate="true" (pysaml2 would otherwise send "false" with persistent).
                "name_id_format_allow_create": True,
                "logout_requests_signed": True,
                "logout_responses_signed": True,
            }
        },
    }
    c = SPConfig()
    c.load(conf)
    if slo:
        # See the header: makes _parse_request demand a verified Redirect query signature.
        c.setattr("idp", "want_authn_requests_signed", True)
    return c


def client(cfg, slo=False):
    return Saml2Client(config=sp_config(cfg, slo))


def cmd_metadata(args, cfg):
    md = create_metadata_string(None, config=sp_config(cfg), valid=None, sign=False)
    return md.decode("utf-8") if isinstance(md, bytes) else md


class _FormFields(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}
        self.action = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")


def cmd_authn(args, cfg):
    cl = client(cfg)
    signed = bool(cfg["authn_requests_signed"])
    kwargs = {}
    if args.force_authn:
        kwargs["force_authn"] = "true"
    if args.is_passive:
        kwargs["is_passive"] = "true"
    nameid_format = {"persistent": NAMEID_FORMAT_PERSISTENT, "transient": NAMEID_FORMAT_TRANSIENT}.get(
        args.name_id_format
    )
    reqid, info = cl.prepare_for_authenticate(
        entityid=None,
        relay_state=args.relay_state or "",
        binding=BINDINGS[args.binding],
        nameid_format=nameid_format,
        sign=signed,
        sigalg=SIG_RSA_SHA256 if signed else None,
        digest_alg=DIGEST_SHA256 if signed else None,
        **kwargs,
    )
    out = {"request_id": reqid, "binding": args.binding, "signed": signed}
    if args.binding == "redirect":
        out["url"] = dict(info["headers"])["Location"]
    else:
        form = _FormFields()
        form.feed(info["data"])
        out["url"] = info["url"]
        out["fields"] = form.fields
    return out


class _ErrorLog(logging.Handler):
    """Collects pysaml2's ERROR log lines: for some refusals they are its only reason."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.lines = []

    def emit(self, record):
        try:
            self.lines.append(record.getMessage())
        except Exception:  # noqa: BLE001
            self.lines.append(str(record.msg))


def status_codes(resp):
    """StatusCode values of the parsed Response, outermost first."""
    codes = []
    try:
        sc = resp.response.status.status_code
        while sc is not None:
            codes.append(sc.value)
            sc = sc.status_code
    except AttributeError:
        pass
    return codes


def cmd_validate(args, cfg):
    log = _ErrorLog()
    root = logging.getLogger()
    root.addHandler(log)
    root.setLevel(logging.ERROR)
    cl = client(cfg)
    try:
        resp = cl.parse_authn_request_response(
            args.saml_response,
            BINDING_HTTP_POST,
            outstanding={args.request_id: cfg["acs_url"]},
            # A non-empty conv_info makes pysaml2 check SubjectConfirmationData/@Recipient against
            # the ACS URLs; remote_addr 0.0.0.0 means "any client address".
            conv_info={"remote_addr": "0.0.0.0"},
        )
    except Exception as e:  # pysaml2 signals most refusals by raising
        if not is_refusal(e):
            raise
        raise pc.Refused("pysaml2: %s: %s" % (type(e).__name__, " ".join(str(e).split())))
    # pysaml2 ignores the result of StatusResponse._verify() (Destination, IssueInstant,
    # InResponseTo against request_id): such a Response comes back without a parsed assertion.
    if resp is None or resp.assertion is None:
        reason = "; ".join(log.lines) or (
            "no verified assertion (Destination, IssueInstant within a day of now, or Status failed)"
        )
        codes = status_codes(resp)
        if codes and codes[0] != pc.STATUS_SUCCESS:
            reason += " [status: %s]" % " / ".join(codes)
        raise pc.Refused("pysaml2: response not accepted: %s" % reason)
    if resp.in_response_to != args.request_id:
        raise pc.Refused("pysaml2: InResponseTo %r is not the request id" % (resp.in_response_to,))
    info = resp.session_info()
    name_id = info.get("name_id")
    authn = info.get("authn_info") or []
    attributes = {}
    for stmt in resp.assertion.attribute_statement:
        for attr in stmt.attribute:
            vals = attributes.setdefault(attr.name, [])
            for v in attr.attribute_value:
                vals.append(v.text if v.text is not None else "")
    return {
        "ok": True,
        "name_id": name_id.text if name_id is not None else None,
        "name_id_format": name_id.format if name_id is not None else None,
        "session_index": info.get("session_index"),
        "authn_context": authn[0][0] if authn else None,
        "attributes": attributes,
        "relay_state": args.relay_state,
    }


def idp_entity_id(cl, cfg):
    if cfg.get("idp_entity_id"):
        return cfg["idp_entity_id"]
    idps = list(cl.metadata.identity_providers())
    if len(idps) != 1:
        raise ValueError("IdP metadata names %d IdPs, expected 1" % len(idps))
    return idps[0]


def idp_redirect_slo(cl, idp):
    srvs = cl.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")
    loc = next(locations(srvs), None) if srvs else None
    if not loc:
        raise pc.Usage("the IdP has no HTTP-Redirect SingleLogoutService (idp_slo_url or its metadata)")
    return loc


def cmd_logout(args, cfg):
    pc.need_slo(cfg, "slo_url")
    cl = client(cfg, slo=True)
    idp = idp_entity_id(cl, cfg)
    dest = idp_redirect_slo(cl, idp)
    name_id = NameID(format=pc.NAMEID_FORMATS[args.name_id_format], text=args.name_id)
    req_id, req = cl.create_logout_request(
        dest, idp, name_id=name_id, session_indexes=[args.session_index], sign=False,
        sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
    )
    info = cl.apply_binding(BINDING_HTTP_REDIRECT, str(req), dest, args.relay_state or "", sign=True,
                            sigalg=SIG_RSA_SHA256)
    return {"request_id": req_id, "binding": "redirect", "url": dict(info["headers"])["Location"], "signed": True}


def slo_refusal(e, log):
    if not is_refusal(e):
        raise e
    extra = ("; log: " + "; ".join(log.lines)) if log.lines else ""
    return pc.Refused("pysaml2: %s: %s%s" % (type(e).__name__, " ".join(str(e).split()), extra))


def cmd_slo(args, cfg):
    _query, get = pc.split_slo_url(cfg, args.url)
    if "SAMLResponse" in get and not args.request_id:
        raise pc.Usage("a LogoutResponse needs --request-id")
    log = _ErrorLog()
    root = logging.getLogger()
    root.addHandler(log)
    root.setLevel(logging.ERROR)
    cl = client(cfg, slo=True)
    sig = {"relay_state": get.get("RelayState"), "sigalg": get.get("SigAlg"), "signature": get.get("Signature")}
    if "SAMLRequest" in get:
        return slo_request(cl, get["SAMLRequest"], sig, log)
    if "SAMLResponse" in get:
        return slo_response(cl, get, args.request_id, log)
    raise pc.Refused("driver: neither SAMLRequest nor SAMLResponse in the query")


def slo_request(cl, saml_request, sig, log):
    try:
        req = cl.parse_logout_request(saml_request, BINDING_HTTP_REDIRECT, **sig)
    except Exception as e:  # noqa: BLE001 - pysaml2 refuses by raising
        raise slo_refusal(e, log)
    if req is None or req.message is None:
        raise pc.Refused("pysaml2: LogoutRequest not accepted: %s" % ("; ".join(log.lines) or "no message"))
    msg = req.message
    session_indexes = [si.text for si in (msg.session_index or [])]
    # Seed the identity cache with the verified NameID (see the header).
    cl.users.add_information_about_person({
        "name_id": msg.name_id,
        "issuer": msg.issuer.text,
        "not_on_or_after": int(time.time()) + 3600,
        "ava": {},
        "session_index": session_indexes[0] if session_indexes else None,
    })
    try:
        info = cl.handle_logout_request(
            saml_request, msg.name_id, BINDING_HTTP_REDIRECT, sign=True, sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256, **sig,
        )
    except Exception as e:  # noqa: BLE001
        raise slo_refusal(e, log)
    headers = dict(info.get("headers") or [])
    if "Location" not in headers:
        raise ValueError("pysaml2 answered the LogoutRequest without a Redirect: %r" % (info,))
    return {
        "ok": True,
        "kind": "request",
        "name_id": msg.name_id.text,
        "session_indexes": session_indexes,
        "response_url": headers["Location"],
    }


def slo_response(cl, get, request_id, log):
    try:
        resp = cl.parse_logout_request_response(get["SAMLResponse"], BINDING_HTTP_REDIRECT)
    except Exception as e:  # noqa: BLE001
        raise slo_refusal(e, log)
    if resp is None or resp.response is None:
        raise pc.Refused("pysaml2: LogoutResponse not accepted: %s" % ("; ".join(log.lines) or "no response"))
    if not get.get("SigAlg") or not get.get("Signature"):
        raise pc.Refused("driver: the LogoutResponse has no query signature (SigAlg, Signature)")
    issuer = resp.issuer()
    certs = cl.metadata.certs(issuer, "any", "signing")
    msg = {k: get[k] for k in ("SAMLResponse", "RelayState", "SigAlg", "Signature") if k in get}
    try:
        verified = any(verify_redirect_signature(msg, cl.sec.sec_backend, cert) for _, cert in certs)
    except Exception as e:  # noqa: BLE001
        raise slo_refusal(e, log)
    if not verified:
        raise pc.Refused("pysaml2: verify_redirect_signature: the LogoutResponse query signature does not verify "
                         "with the %d signing certificate(s) of %s" % (len(certs), issuer))
    codes = status_codes(resp)
    resp.request_id = request_id
    try:
        ok = resp.verify()
    except Exception as e:  # noqa: BLE001 - status_ok raises for a non-Success status
        r = slo_refusal(e, log)
        raise pc.Refused("%s [status: %s]" % (r, " / ".join(codes)))
    if not ok:
        raise pc.Refused("pysaml2: LogoutResponse not accepted: %s" % ("; ".join(log.lines) or "verify() failed"))
    if resp.in_response_to != request_id:
        raise pc.Refused("pysaml2: InResponseTo %r is not the request id" % (resp.in_response_to,))
    return {"ok": True, "kind": "response", "status": codes[0] if codes else None,
            "sub_status": codes[1] if len(codes) > 1 else None}


if __name__ == "__main__":
    pc.run({"metadata": cmd_metadata, "authn": cmd_authn, "validate": cmd_validate, "logout": cmd_logout,
            "slo": cmd_slo})
