"""Self-check of the three SP drivers without the gateway.

    tests/peers/install.sh && tests/peers/.venv/bin/python tests/peers/selfcheck.py [-v] [--driver NAME]...

The suite runs it, one driver per test (tests/tests/peers_selfcheck.rs); it is the proof that
the drivers' paths are real. It makes a throwaway IdP and SP key/certificate, and for each driver
(python3_saml_sp.py, pysaml2_sp.py, node_saml_sp.js):
  - metadata (requests signed and unsigned): parsed, entityID, AuthnRequestsSigned,
    WantAssertionsSigned, signing certificate, HTTP-POST ACS checked;
  - authn over Redirect and POST, signed and unsigned: the request is decoded and checked (ID,
    Destination, Issuer, ACS URL, ForceAuthn / IsPassive / NameIDPolicy), a Redirect signature is
    verified over the raw query octets and a POST signature with xmlsec against the SP certificate;
  - validate on a SAML Response this script builds and signs like an IdP (signed Assertion,
    exclusive c14n, rsa-sha256, sha256, Destination, Audience, InResponseTo,
    SubjectConfirmationData, AuthnStatement, uri-format attributes): must be accepted with the
    right fields; then on hostile variants (tampered, wrong InResponseTo, foreign key, ...),
    which must be refused (exit 1) for the reason listed in REFUSAL_REASONS. A library that
    accepts a variant it should refuse is a failure unless the variant is listed in KNOWN_GAPS
    for that library (printed as such). Each answer is printed as "refused: <reason>" or
    "error: <exception>"; an error (the driver exits 3: an exception the library does not raise
    to refuse) is always a failure, never a refusal;
  - crashes: with the library's validate entry point patched to raise a TypeError, and with the
    library's module missing, the driver must exit 3 with "error: ...", not 1;
  - single logout (selfcheck_slo.py): metadata declares SingleLogoutService HTTP-Redirect at
    slo_url; `slo` on LogoutRequests and LogoutResponses made by another library acting as the
    IdP, `logout` verified by that library, hostile variants (Signature removed, SigAlg or
    Signature changed, foreign key, ...) refused.
Exit 0 when everything holds; prints one line per check with -v, a summary always.
"""

import base64
import concurrent.futures
import datetime
import json
import os
import subprocess
import sys
import tempfile
import uuid
import zlib
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
import xmlsec

import selfcheck_slo

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.path.join(HERE, ".venv", "bin", "python")
DRIVERS = {
    "python3-saml": [PY, os.path.join(HERE, "python3_saml_sp.py")],
    "pysaml2": [PY, os.path.join(HERE, "pysaml2_sp.py")],
    "node-saml": ["node", os.path.join(HERE, "node_saml_sp.js")],
}
NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
URI_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
LOA = "http://ftn.ficora.fi/2017/loa3"
ATTRS = [
    ("urn:oid:1.2.246.21", "nationalIdentificationNumber", ["010190-999W"]),
    ("urn:oid:2.5.4.42", "givenName", ["Matti", "Kalle"]),
    ("urn:oid:2.5.4.4", "sn", ["Meikäläinen"]),
    ("urn:oid:2.5.4.3", "cn", ["Meikäläinen Matti Kalle"]),
    ("urn:oid:2.16.840.1.113730.3.1.241", "displayName", ["Matti Meikäläinen"]),
    ("urn:oid:1.3.6.1.5.5.7.9.1", "dateOfBirth", ["1990-01-01"]),
]

# Variants a library is known to accept although a strict SP should not (library behaviour,
# reported, not a driver bug). The self-check fails if a variant not listed here is accepted,
# and prints a note if a listed one starts being refused.
KNOWN_GAPS = {
    # python3-saml compares Destination with startswith(current URL), and checks InResponseTo
    # only when the Response carries one.
    "python3-saml": {"destination-prefix", "no-inresponseto", "no-response-inresponseto"},
    "pysaml2": set(),
    # node-saml 5 checks neither Response/@Destination, SubjectConfirmationData/@Recipient nor
    # the Issuer of a login Response (its idpIssuer option is applied to logout messages only).
    "node-saml": {"wrong-destination", "destination-prefix", "wrong-recipient", "wrong-issuer"},
}

# Why each library refuses each variant: a substring of its reason (case-insensitive). A refusal
# for another reason means the variant is not hostile in the way its name says, or the library
# failed somewhere else first.
_STATUS_REASONS = {"status-nopassive": "NoPassive", "status-authnfailed": "AuthnFailed",
                   "status-nopassive-signed": "NoPassive"}
REFUSAL_REASONS = {
    "python3-saml": dict(_STATUS_REASONS, **{
        "tampered": "Signature validation failed",
        "foreign-key": "Signature validation failed",
        "wrong-inresponseto": "does not match the ID of the AuthNRequest",
        "unsigned": "Assertion of the Response is not signed",
        "wrong-audience": "is not a valid audience",
        "expired": "Could not validate timestamp: expired",
        "not-yet-valid": "Could not validate timestamp: not yet valid",
        "wrong-destination": "The response was received at",
        "wrong-recipient": "A valid SubjectConfirmation was not found",
        "wrong-issuer": "Invalid issuer",
    }),
    "pysaml2": dict(_STATUS_REASONS, **{
        "tampered": "SignatureError: Failed to verify signature",
        "foreign-key": "SignatureError: Failed to verify signature",
        "wrong-inresponseto": "UnsolicitedResponse",
        "unsigned": "Signature missing for assertion",
        "wrong-audience": "AudienceRestrictions conditions not satisfied",
        "expired": "VerificationError: Condition not OK",
        "not-yet-valid": "VerificationError: Condition not OK",
        "wrong-destination": "not in return addresses",
        "destination-prefix": "not in return addresses",
        "wrong-recipient": "No valid recipient",
        "wrong-issuer": "MissingKey: http://127.0.0.1:1/evil-idp",
        "no-inresponseto": "UnsolicitedResponse: Unsolicited response: None",
        "no-response-inresponseto": "UnsolicitedResponse: Unsolicited response: None",
    }),
    "node-saml": dict(_STATUS_REASONS, **{
        "tampered": "Invalid signature",
        "foreign-key": "Invalid signature",
        "unsigned": "Invalid signature",
        "wrong-inresponseto": "InResponseTo is not valid",
        "wrong-audience": "audience mismatch",
        "expired": "No valid subject confirmation",
        "not-yet-valid": "SAML assertion not yet valid",
        "no-inresponseto": "InResponseTo is missing",
        "no-response-inresponseto": "InResponseTo is missing",
    }),
}

# How the crash checks break each library: the entry point validate calls, patched to raise.
PYTHON_PATCHES = {
    "python3-saml": ("onelogin.saml2.auth", "OneLogin_Saml2_Auth", "process_response", "onelogin"),
    "pysaml2": ("saml2.client_base", "Base", "parse_authn_request_response", "saml2"),
}
NODE_LIBRARY = "@node-saml/node-saml"

VERBOSE = "-v" in sys.argv
results = {"pass": 0, "fail": 0}
notes = []


def check(cond, what):
    if cond:
        results["pass"] += 1
        if VERBOSE:
            print("  ok   " + what)
    else:
        results["fail"] += 1
        print("  FAIL " + what)
    return cond


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_keypair(cn, d, stem):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    t = now_utc()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(t - datetime.timedelta(days=1))
        .not_valid_after(t + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    kp = os.path.join(d, stem + ".key")
    cp = os.path.join(d, stem + ".crt")
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cp, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return {"key": key, "cert": cert, "key_file": kp, "cert_file": cp,
            "der_b64": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()}


def idp_metadata(entity_id, sso_url, slo_url, idp):
    return (
        '<md:EntityDescriptor xmlns:md="%(md)s" xmlns:ds="%(ds)s" entityID="%(e)s">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" '
        'WantAuthnRequestsSigned="true">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%(c)s'
        '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%(l)s"/>'
        '<md:SingleLogoutService Binding="%(p)s" Location="%(l)s"/>'
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%(s)s"/>'
        '<md:SingleSignOnService Binding="%(p)s" Location="%(s)s"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    ) % {"md": NS["md"], "ds": NS["ds"], "e": entity_id, "c": idp["der_b64"], "s": sso_url, "p": POST_BINDING,
         "l": slo_url}


def run_driver(name, *args, env=None, prefix=()):
    cmd = DRIVERS[name][:1] + list(prefix) + DRIVERS[name][1:] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout, r.stderr


def driver_json(name, *args, env=None, prefix=()):
    code, out, err = run_driver(name, *args, env=env, prefix=prefix)
    try:
        return code, json.loads(out), err
    except ValueError:
        return code, None, err + "\nstdout: " + out


# ---------------------------------------------------------------- metadata

def check_metadata(name, cfg_file, cfg, sp, signed):
    code, out, err = run_driver(name, "metadata", "--config", cfg_file)
    if not check(code == 0, "%s metadata (signed=%s) exits 0 %s" % (name, signed, err.strip()[-300:])):
        return
    doc = etree.fromstring(out.encode())
    ed = doc if doc.tag == "{%s}EntityDescriptor" % NS["md"] else None
    check(ed is not None and ed.get("entityID") == cfg["entity_id"], "%s metadata EntityDescriptor entityID" % name)
    sps = doc.findall("md:SPSSODescriptor", NS)
    if not check(len(sps) == 1, "%s metadata has one SPSSODescriptor" % name):
        return
    s = sps[0]
    check(s.get("AuthnRequestsSigned") == ("true" if signed else "false"),
          "%s metadata AuthnRequestsSigned=%s (got %s)" % (name, signed, s.get("AuthnRequestsSigned")))
    check(s.get("WantAssertionsSigned") == "true", "%s metadata WantAssertionsSigned=true" % name)
    certs = ["".join(c.text.split()) for c in
             s.findall("md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)]
    check(certs == [sp["der_b64"]], "%s metadata KeyDescriptor use=signing carries the SP certificate" % name)
    acs = s.findall("md:AssertionConsumerService", NS)
    check(len(acs) == 1 and acs[0].get("Binding") == POST_BINDING and acs[0].get("Location") == cfg["acs_url"],
          "%s metadata one HTTP-POST ACS at acs_url (index=%s)" % (name, acs[0].get("index") if acs else None))


# ---------------------------------------------------------------- authn requests

def verify_redirect_signature(query, cert):
    """SAML bindings 3.4.4.1: signature over the octets of SAMLRequest[&RelayState]&SigAlg as sent."""
    raw = {}
    for part in query.split("&"):
        k, _, v = part.partition("=")
        raw[k] = v
    signed_part = "SAMLRequest=" + raw["SAMLRequest"]
    if "RelayState" in raw:
        signed_part += "&RelayState=" + raw["RelayState"]
    signed_part += "&SigAlg=" + raw["SigAlg"]
    sig = base64.b64decode(dict(parse_qsl(query))["Signature"])
    try:
        cert.public_key().verify(sig, signed_part.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def verify_embedded(xml_bytes, cert_file):
    doc = etree.fromstring(xml_bytes)
    sigs = doc.findall("ds:Signature", NS)
    if len(sigs) != 1:
        return False, "%d ds:Signature children" % len(sigs)
    refs = sigs[0].findall("ds:SignedInfo/ds:Reference", NS)
    if len(refs) != 1 or refs[0].get("URI") != "#" + doc.get("ID"):
        return False, "reference does not point at the root ID"
    alg = sigs[0].find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm")
    if alg != RSA_SHA256:
        return False, "SignatureMethod " + alg
    xmlsec.tree.add_ids(doc, ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(cert_file, xmlsec.KeyFormat.CERT_PEM)
    try:
        ctx.verify(sigs[0])
        return True, ""
    except xmlsec.Error as e:
        return False, str(e)


def check_authn(name, cfg_file, cfg, sp, signed, binding, extra, expect):
    label = "%s authn %s signed=%s %s" % (name, binding, signed, " ".join(extra))
    code, out, err = driver_json(name, "authn", "--config", cfg_file, "--binding", binding, *extra)
    if not check(code == 0 and out, label + " exits 0 " + err.strip()[-300:]):
        return None
    check(out.get("binding") == binding, label + ": binding echoed")
    check(out.get("signed") is signed, label + ": signed=%s reported (got %s)" % (signed, out.get("signed")))
    rs = expect.get("relay_state")
    if binding == "redirect":
        u = urlsplit(out["url"])
        check("%s://%s%s" % (u.scheme, u.netloc, u.path) == cfg["idp_sso_url"], label + ": URL is the SSO URL")
        q = dict(parse_qsl(u.query, keep_blank_values=True))
        xml = zlib.decompress(base64.b64decode(q["SAMLRequest"]), -15)
        check(q.get("RelayState") == rs, label + ": RelayState %r (got %r)" % (rs, q.get("RelayState")))
        if signed:
            check(q.get("SigAlg") == RSA_SHA256, label + ": SigAlg rsa-sha256")
            ok = verify_redirect_signature(u.query, sp["cert"])
            if name == "node-saml" and rs and any(c in rs for c in " !'()~*"):
                # node-saml signs querystring.stringify() output but sends URLSearchParams output.
                notes.append("node-saml: Redirect signature does not cover the octets sent when RelayState "
                             "has one of [space !'()~*] (RelayState %r): verified=%s" % (rs, ok))
            else:
                check(ok, label + ": Redirect signature verifies over the raw query octets")
        else:
            check("Signature" not in q and "SigAlg" not in q, label + ": no Signature/SigAlg")
    else:
        check(out.get("url") == cfg["idp_sso_url"], label + ": POST URL is the SSO URL")
        fields = out.get("fields") or {}
        check(fields.get("RelayState") == rs, label + ": RelayState field %r (got %r)" % (rs, fields.get("RelayState")))
        xml = base64.b64decode(fields["SAMLRequest"])
        check(xml.lstrip().startswith(b"<"), label + ": POST SAMLRequest is base64 of XML (not deflated)")
        doc = etree.fromstring(xml)
        has_sig = doc.find("ds:Signature", NS) is not None
        if signed:
            ok, why = verify_embedded(xml, sp["cert_file"])
            check(ok, label + ": embedded signature verifies with the SP certificate " + why)
        else:
            check(not has_sig, label + ": no embedded signature")
    doc = etree.fromstring(xml)
    check(doc.tag == "{%s}AuthnRequest" % NS["samlp"], label + ": samlp:AuthnRequest")
    check(doc.get("ID") == out.get("request_id") and doc.get("ID"), label + ": ID == request_id")
    check(doc.get("Version") == "2.0", label + ": Version 2.0")
    check(doc.get("Destination") == cfg["idp_sso_url"], label + ": Destination = SSO URL")
    iss = doc.find("saml:Issuer", NS)
    check(iss is not None and iss.text == cfg["entity_id"], label + ": Issuer = entity id")
    acs = doc.get("AssertionConsumerServiceURL")
    check(acs in (None, cfg["acs_url"]), label + ": AssertionConsumerServiceURL = acs_url or absent")
    check((doc.get("ForceAuthn") == "true") == expect.get("force", False), label + ": ForceAuthn")
    check((doc.get("IsPassive") == "true") == expect.get("passive", False), label + ": IsPassive")
    pol = doc.find("samlp:NameIDPolicy", NS)
    fmt = pol.get("Format") if pol is not None else None
    if expect.get("format"):
        check(fmt == expect["format"], label + ": NameIDPolicy Format %s (got %s)" % (expect["format"], fmt))
    if VERBOSE:
        print("       %s: ID %s, NameIDPolicy %s, RequestedAuthnContext %s" % (
            label, doc.get("ID"), fmt, doc.find("samlp:RequestedAuthnContext", NS) is not None))
    return out


# ---------------------------------------------------------------- responses

def new_id():
    return "_" + uuid.uuid4().hex


def build_response(cfg, idp, request_id, **kw):
    """A Response as an IdP would send it, with the Assertion signed. kw changes one thing."""
    t = now_utc()
    irt = kw.get("in_response_to", request_id)
    destination = kw.get("destination", cfg["acs_url"])
    recipient = kw.get("recipient", cfg["acs_url"])
    audience = kw.get("audience", cfg["entity_id"])
    issuer = kw.get("issuer", cfg["idp_entity_id"])
    not_after = t + kw.get("lifetime", datetime.timedelta(minutes=5))
    not_before = t - datetime.timedelta(seconds=kw.get("not_before_ago", 30))
    status = kw.get("status")
    rid, aid = new_id(), new_id()
    E = etree.Element
    S = lambda parent, tag, **a: etree.SubElement(parent, tag, **a)  # noqa: E731
    q = lambda p, n: "{%s}%s" % (NS[p], n)  # noqa: E731
    resp = E(q("samlp", "Response"), nsmap={"samlp": NS["samlp"], "saml": NS["saml"]})
    resp.set("ID", rid)
    resp.set("Version", "2.0")
    resp.set("IssueInstant", ts(t))
    if destination is not None:
        resp.set("Destination", destination)
    if irt is not None and not kw.get("no_response_irt"):
        resp.set("InResponseTo", irt)
    S(resp, q("saml", "Issuer")).text = issuer
    st = S(resp, q("samlp", "Status"))
    if status:
        sc = S(st, q("samlp", "StatusCode"), Value="urn:oasis:names:tc:SAML:2.0:status:" + status[0])
        S(sc, q("samlp", "StatusCode"), Value="urn:oasis:names:tc:SAML:2.0:status:" + status[1])
        if kw.get("sign_response"):
            sign_element(resp, rid, idp)
        return etree.tostring(resp, xml_declaration=True, encoding="UTF-8")
    S(st, q("samlp", "StatusCode"), Value="urn:oasis:names:tc:SAML:2.0:status:Success")
    a = S(resp, q("saml", "Assertion"), nsmap={"xs": "http://www.w3.org/2001/XMLSchema",
                                               "xsi": "http://www.w3.org/2001/XMLSchema-instance"})
    a.set("ID", aid)
    a.set("Version", "2.0")
    a.set("IssueInstant", ts(t))
    S(a, q("saml", "Issuer")).text = issuer
    subj = S(a, q("saml", "Subject"))
    nid = S(subj, q("saml", "NameID"), Format=PERSISTENT, NameQualifier=cfg["idp_entity_id"],
            SPNameQualifier=cfg["entity_id"])
    nid.text = "AAdzZWNyZXQxkdM8kvw5P4Xy1pyC3Rqkra9eWw=="
    scn = S(subj, q("saml", "SubjectConfirmation"), Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
    scd = S(scn, q("saml", "SubjectConfirmationData"), NotOnOrAfter=ts(not_after), Recipient=recipient)
    if irt is not None and not kw.get("no_scd_irt"):
        scd.set("InResponseTo", irt)
    cond = S(a, q("saml", "Conditions"), NotBefore=ts(not_before), NotOnOrAfter=ts(not_after))
    ar = S(cond, q("saml", "AudienceRestriction"))
    S(ar, q("saml", "Audience")).text = audience
    ast = S(a, q("saml", "AuthnStatement"), AuthnInstant=ts(t), SessionIndex=kw.get("session_index", "_sess-1"))
    ac = S(ast, q("saml", "AuthnContext"))
    S(ac, q("saml", "AuthnContextClassRef")).text = LOA
    ats = S(a, q("saml", "AttributeStatement"))
    for name, friendly, values in ATTRS:
        at = S(ats, q("saml", "Attribute"), Name=name, NameFormat=URI_FORMAT, FriendlyName=friendly)
        for v in values:
            av = S(at, q("saml", "AttributeValue"))
            av.set("{http://www.w3.org/2001/XMLSchema-instance}type", "xs:string")
            av.text = v
    signer = kw.get("signer", idp)
    if signer is not None:
        sign_element(a, aid, signer)
    if kw.get("sign_response"):
        sign_element(resp, rid, idp)
    return etree.tostring(resp, xml_declaration=True, encoding="UTF-8")


def sign_element(el, el_id, signer):
    """Enveloped signature placed right after the element's saml:Issuer, as the schema requires."""
    sig = xmlsec.template.create(el, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
    el[0].addnext(sig)
    ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#" + el_id)
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    ki = xmlsec.template.ensure_key_info(sig)
    xmlsec.template.add_x509_data(ki)
    xmlsec.tree.add_ids(el, ["ID"])
    ctx = xmlsec.SignatureContext()
    key = xmlsec.Key.from_file(signer["key_file"], xmlsec.KeyFormat.PEM)
    key.load_cert_from_file(signer["cert_file"], xmlsec.KeyFormat.CERT_PEM)
    ctx.key = key
    ctx.sign(sig)


def xmlsec1_cli_verifies(xml, cert_file):
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(xml)
        f.flush()
        r = subprocess.run(["xmlsec1", "--verify", "--enabled-reference-uris", "same-doc", "--pubkey-cert-pem",
                            cert_file, "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", f.name],
                           capture_output=True, text=True)
        return r.returncode == 0


def validate(name, cfg_file, request_id, xml, relay_state=None, env=None, prefix=()):
    args = ["validate", "--config", cfg_file, "--request-id", request_id,
            "--saml-response", base64.b64encode(xml).decode()]
    if relay_state is not None:
        args += ["--relay-state", relay_state]
    return driver_json(name, *args, env=env, prefix=prefix)


def answer(code, out, err):
    """("accepted" | "refused" | "error", text): a refusal is exit 1 with refused=true and a reason;
    everything else that is not an acceptance is an error of the driver or the library."""
    if code == 0 and out and out.get("ok") is True:
        return "accepted", ""
    if code == 1 and out and out.get("ok") is False and out.get("refused") is True and out.get("error"):
        return "refused", out["error"]
    text = (out or {}).get("error") or err.strip()[-400:]
    return "error", "exit %s: %s" % (code, text)


def check_accepts(name, cfg_file, cfg, request_id, xml, label, relay_state="rs-1"):
    code, out, err = validate(name, cfg_file, request_id, xml, relay_state)
    if not check(code == 0 and out and out.get("ok") is True,
                 "%s accepts %s (exit %s: %s %s)" % (name, label, code, out, err.strip()[-400:])):
        return
    check(out["name_id"] == "AAdzZWNyZXQxkdM8kvw5P4Xy1pyC3Rqkra9eWw==", "%s %s: name_id" % (name, label))
    check(out["name_id_format"] == PERSISTENT, "%s %s: name_id_format" % (name, label))
    check(out["session_index"] == "_sess-1", "%s %s: session_index" % (name, label))
    check(out["authn_context"] == LOA, "%s %s: authn_context (got %s)" % (name, label, out["authn_context"]))
    check(out["relay_state"] == relay_state, "%s %s: relay_state echoed" % (name, label))
    want = {n: v for n, _, v in ATTRS}
    check(out["attributes"] == want, "%s %s: attributes by Name (got %s)" % (name, label, out["attributes"]))


def check_refuses(name, cfg_file, request_id, xml, variant, answered=None):
    code, out, err = answered or validate(name, cfg_file, request_id, xml)
    verdict, text = answer(code, out, err)
    known = variant in KNOWN_GAPS.get(name, set())
    print("  %s / %s: %s%s" % (name, variant, verdict, ": " + text[:300] if text else ""))
    if verdict == "error":
        check(False, "%s on %s: error, not a refusal: %s" % (name, variant, text))
    elif known and verdict == "accepted":
        notes.append("%s ACCEPTS %s (known library gap)" % (name, variant))
    elif known:
        notes.append("%s now refuses %s (listed as a known gap: %s)" % (name, variant, text))
    elif check(verdict == "refused", "%s refuses %s" % (name, variant)):
        want = REFUSAL_REASONS[name].get(variant)
        check(want is not None and want.lower() in text.lower(),
              "%s refuses %s for its reason %r: %s" % (name, variant, want, text))
    return out


def check_crashes_are_errors(name, d, cfg_file, request_id, xml):
    """A library that throws something it does not throw to refuse, or is missing, is an error."""
    cases = []
    if name in PYTHON_PATCHES:
        module, cls, method, top = PYTHON_PATCHES[name]
        for label, body in (
            ("TypeError in %s.%s" % (cls, method),
             "import %s as m\ndef boom(*a, **k):\n    raise TypeError('simulated library bug')\n"
             "setattr(m.%s, %r, boom)\n" % (module, cls, method)),
            ("module %s missing" % top, "import sys\nsys.modules[%r] = None\n" % top),
        ):
            site = os.path.join(d, "crash-%s-%d" % (name, len(cases)))
            os.makedirs(site)
            with open(os.path.join(site, "sitecustomize.py"), "w") as f:
                f.write(body)
            cases.append((label, {"PYTHONPATH": site}, ()))
    else:
        for label, body in (
            ("TypeError in SAML.validatePostResponseAsync",
             "const m = require(%r);\nm.SAML.prototype.validatePostResponseAsync = async function () {\n"
             "  throw new TypeError('simulated library bug');\n};\n" % NODE_LIBRARY),
            ("module %s missing" % NODE_LIBRARY,
             "const Module = require('module');\nconst resolve = Module._resolveFilename;\n"
             "Module._resolveFilename = function (req, ...rest) {\n"
             "  if (req === %r) throw Object.assign(new Error('Cannot find module ' + req), "
             "{ code: 'MODULE_NOT_FOUND' });\n"
             "  return resolve.call(this, req, ...rest);\n};\n" % NODE_LIBRARY),
        ):
            f = os.path.join(d, "crash-%s-%d.js" % (name, len(cases)))
            with open(f, "w") as fh:
                fh.write(body)
            cases.append((label, {"NODE_PATH": os.path.join(HERE, "node_modules")}, ("--require", f)))
    for label, env, prefix in cases:
        code, out, err = validate(name, cfg_file, request_id, xml, env=env, prefix=prefix)
        verdict, text = answer(code, out, err)
        print("  %s / crash: %s: %s: %s" % (name, label, verdict, text[:300]))
        check(verdict == "error" and code == 3 and (out or {}).get("refused") is False
              and (out or {}).get("error", "").startswith("error: "),
              "%s reports %s as an error (exit 3, error: ...), not a refusal: exit %s %s"
              % (name, label, code, out))


def check_slo(name, cfg_file, cfg_md_file, cfg, idp, sp, foreign):
    """Single logout against an IdP played by another library: see selfcheck_slo.py."""
    code, md, err = run_driver(name, "metadata", "--config", cfg_file)
    if not check(code == 0, "%s metadata for the SLO checks %s" % (name, err.strip()[-300:])):
        return
    slos = etree.fromstring(md.encode()).findall("md:SPSSODescriptor/md:SingleLogoutService", NS)
    check([(s.get("Binding"), s.get("Location")) for s in slos] == [(REDIRECT_BINDING, cfg["slo_url"])],
          "%s metadata: one SingleLogoutService, HTTP-Redirect at slo_url" % name)
    selfcheck_slo.run(name, {
        "check": check, "driver_json": driver_json, "answer": answer, "notes": notes,
        "cfg_file": cfg_file, "cfg_md_file": cfg_md_file, "cfg": cfg,
        "idp": idp, "sp": sp, "foreign": foreign, "sp_metadata": md,
    })


def selected_drivers():
    names = [sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--driver"]
    unknown = [n for n in names if n not in DRIVERS]
    if unknown:
        sys.exit("selfcheck: unknown driver %s (known: %s)" % (", ".join(unknown), ", ".join(DRIVERS)))
    return names or list(DRIVERS)


def main():
    drivers = selected_drivers()
    with tempfile.TemporaryDirectory(prefix="peers-selfcheck-") as d:
        idp = make_keypair("selfcheck idp", d, "idp")
        sp = make_keypair("selfcheck sp", d, "sp")
        foreign = make_keypair("selfcheck foreign", d, "foreign")
        base_idp, base_sp = "http://127.0.0.1:18080", "http://127.0.0.1:18081"
        md_file = os.path.join(d, "idp-metadata.xml")
        with open(md_file, "w") as f:
            f.write(idp_metadata(base_idp + "/saml/idp", base_idp + "/saml/idp/sso", base_idp + "/saml/idp/slo", idp))

        def config(signed, via_metadata=False):
            c = {
                "entity_id": base_sp + "/sp",
                "acs_url": base_sp + "/sp/acs",
                "slo_url": base_sp + "/sp/slo",
                "idp_entity_id": base_idp + "/saml/idp",
                "idp_sso_url": base_idp + "/saml/idp/sso",
                "idp_slo_url": base_idp + "/saml/idp/slo",
                "idp_cert_pem_file": idp["cert_file"],
                "idp_metadata_file": md_file,
                "sp_key_file": sp["key_file"],
                "sp_cert_file": sp["cert_file"],
                "authn_requests_signed": signed,
            }
            if via_metadata:
                for k in ("idp_entity_id", "idp_sso_url", "idp_cert_pem_file", "idp_slo_url"):
                    c[k] = None
            p = os.path.join(d, "cfg-%s-%s.json" % (signed, via_metadata))
            with open(p, "w") as f:
                json.dump(c, f)
            return p, c

        cfg_s_file, cfg = config(True)
        cfg_u_file, _ = config(False)
        cfg_md_file, _ = config(True, via_metadata=True)

        # the reference Response itself must satisfy the xmlsec1 CLI oracle
        probe = build_response(cfg, idp, "_probe")
        check(xmlsec1_cli_verifies(probe, idp["cert_file"]), "xmlsec1 --verify accepts the reference Response")
        check(not xmlsec1_cli_verifies(probe.replace(b"Matti<", b"Mattj<"), idp["cert_file"]),
              "xmlsec1 --verify refuses a tampered Response")
        check(not xmlsec1_cli_verifies(probe, foreign["cert_file"]), "xmlsec1 --verify refuses the wrong certificate")
        check(not xmlsec1_cli_verifies(build_response(cfg, idp, "_probe", signer=foreign), idp["cert_file"]),
              "xmlsec1 --verify refuses a foreign signature whose certificate is in KeyInfo")

        for name in drivers:
            print("== %s" % name)
            check_metadata(name, cfg_s_file, cfg, sp, True)
            check_metadata(name, cfg_u_file, cfg, sp, False)
            req = {}
            for signed, cf in ((True, cfg_s_file), (False, cfg_u_file)):
                for binding in ("redirect", "post"):
                    req[(signed, binding)] = check_authn(name, cf, cfg, sp, signed, binding,
                                                         ["--relay-state", "rs-1"], {"relay_state": "rs-1"})
            check_authn(name, cfg_s_file, cfg, sp, True, "redirect",
                        ["--force-authn", "--name-id-format", "persistent"], {"force": True, "format": PERSISTENT})
            check_authn(name, cfg_s_file, cfg, sp, True, "post",
                        ["--is-passive", "--name-id-format", "transient", "--relay-state", "a&b=c/d?e"],
                        {"passive": True, "format": TRANSIENT, "relay_state": "a&b=c/d?e"})
            check_authn(name, cfg_s_file, cfg, sp, True, "redirect",
                        ["--relay-state", "a b&c=d"], {"relay_state": "a b&c=d"})
            first = req.get((True, "redirect")) or {}
            rid = first.get("request_id") or new_id()

            good = build_response(cfg, idp, rid)
            check_accepts(name, cfg_s_file, cfg, rid, good, "a proper Response")
            check_accepts(name, cfg_md_file, cfg, rid, build_response(cfg, idp, rid),
                          "a proper Response (IdP from metadata file)")
            check_accepts(name, cfg_s_file, cfg, rid, build_response(cfg, idp, rid, sign_response=True),
                          "a Response with both Response and Assertion signed")

            hostile = {
                "tampered": good.replace(b"Meik\xc3\xa4l\xc3\xa4inen<", b"Meik\xc3\xa4l\xc3\xa4inem<", 1),
                "wrong-inresponseto": build_response(cfg, idp, rid, in_response_to=new_id()),
                "foreign-key": build_response(cfg, idp, rid, signer=foreign),
                "unsigned": build_response(cfg, idp, rid, signer=None),
                "wrong-audience": build_response(cfg, idp, rid, audience="http://127.0.0.1:1/other"),
                "expired": build_response(cfg, idp, rid, lifetime=datetime.timedelta(minutes=-10)),
                "not-yet-valid": build_response(cfg, idp, rid, not_before_ago=-600),
                "wrong-destination": build_response(cfg, idp, rid, destination=base_sp + "/other/acs"),
                "destination-prefix": build_response(cfg, idp, rid, destination=cfg["acs_url"] + "/x"),
                "wrong-recipient": build_response(cfg, idp, rid, recipient=base_sp + "/other/acs"),
                "wrong-issuer": build_response(cfg, idp, rid, issuer="http://127.0.0.1:1/evil-idp"),
                "no-inresponseto": build_response(cfg, idp, rid, in_response_to=None),
                "no-response-inresponseto": build_response(cfg, idp, rid, no_response_irt=True),
                "status-nopassive": build_response(cfg, idp, rid, status=("Responder", "NoPassive")),
                "status-authnfailed": build_response(cfg, idp, rid, status=("Responder", "AuthnFailed")),
                "status-nopassive-signed": build_response(cfg, idp, rid, status=("Responder", "NoPassive"),
                                                          sign_response=True),
            }
            # The driver runs are independent (a process each, ~1 s of library imports): run them
            # side by side, then check them in order.
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                answers = list(pool.map(lambda x: validate(name, cfg_s_file, rid, x), hostile.values()))
            for (variant, xml), answered in zip(hostile.items(), answers):
                out = check_refuses(name, cfg_s_file, rid, xml, variant, answered)
                if variant.startswith("status-") and out and out.get("error"):
                    code_name = variant.split("-")[1].lower()
                    check(code_name in out["error"].lower(),
                          "%s reports the status code for %s: %s" % (name, variant, out["error"]))
            check_crashes_are_errors(name, d, cfg_s_file, rid, good)
            check_slo(name, cfg_s_file, cfg_md_file, cfg, idp, sp, foreign)

    print("== notes")
    for n in notes:
        print("  " + n)
    print("%d passed, %d failed" % (results["pass"], results["fail"]))
    sys.exit(1 if results["fail"] else 0)


if __name__ == "__main__":
    main()
