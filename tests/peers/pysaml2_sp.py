#!/usr/bin/env python3
"""SAML SP driven by pysaml2 (saml2.client.Saml2Client).

Usage and output: see peer_common.py (the contract is shared by all drivers).
Run with tests/peers/.venv/bin/python. pysaml2 verifies XML signatures with the
xmlsec1 command-line tool (Debian package xmlsec1), found on PATH.
"""

import base64
import html.parser
import logging
import os
import sys

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
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT  # noqa: E402
from saml2.sigver import get_xmlsec_binary  # noqa: E402
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256  # noqa: E402

# What pysaml2 raises to refuse a Response: its SAMLError family (signature, status, unsolicited,
# verification), its other validation exceptions, and a bare Exception, which is how it refuses
# an AudienceRestriction. A subclass of Exception outside these (TypeError, KeyError, ...) is a
# crash of the library or the driver, never a refusal.
REFUSALS = (saml2.SAMLError, saml2.Error, saml2.response.NotValid, saml2.s_utils.SamlException,
            saml2.sigver.CertificateError, saml2.sigver.XMLSchemaError, saml2.validate.NotValid,
            saml2.validate.OutsideCardinality, saml2.validate.MustValueError, saml2.validate.ShouldValueError,
            saml2.validate.ResponseLifetimeExceed, saml2.validate.ToEarly)


def is_refusal(e):
    return isinstance(e, REFUSALS) or type(e) is Exception

BINDINGS = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}


def synth_idp_metadata(cfg):
    """IdP metadata built from the explicit config fields (used when no idp_metadata_file is given)."""
    from xml.sax.saxutils import quoteattr, escape

    cert = pc.pem_body(pc.read_text(cfg["idp_cert_pem_file"]))
    sso = "".join(
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


def sp_config(cfg):
    if cfg.get("idp_metadata_file"):
        metadata = {"local": [cfg["idp_metadata_file"]]}
    else:
        metadata = {"inline": [synth_idp_metadata(cfg)]}
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
                "endpoints": {"assertion_consumer_service": [(cfg["acs_url"], BINDING_HTTP_POST)]},
                "authn_requests_signed": bool(cfg["authn_requests_signed"]),
                "want_assertions_signed": True,
                "want_response_signed": False,
                "want_assertions_or_response_signed": True,
                "allow_unsolicited": False,
                # NameIDPolicy AllowCreate="true" (pysaml2 would otherwise send "false" with persistent).
                "name_id_format_allow_create": True,
            }
        },
    }
    c = SPConfig()
    c.load(conf)
    return c


def client(cfg):
    return Saml2Client(config=sp_config(cfg))


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


if __name__ == "__main__":
    pc.run({"metadata": cmd_metadata, "authn": cmd_authn, "validate": cmd_validate})
