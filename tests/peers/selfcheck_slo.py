"""Single-logout part of selfcheck.py: each SP driver's `logout` and `slo` against an IdP played
by a *different* SAML library, with an IdP key the self-check generated.

The IdP side (in this process, from tests/peers/.venv):
  - `Pysaml2Idp`: pysaml2's IdP class (saml2.server.Server), configured with the driver's own
    metadata (from its `metadata` subcommand) and want_authn_requests_signed, so that it demands
    and verifies the query signature of the driver's LogoutRequest;
  - `Python3SamlIdp`: python3-saml with the roles swapped (its "sp" is the IdP, its "idp" the
    driver's SP), strict, wantMessagesSigned, so process_slo verifies what the driver sends.
Pairs: python3-saml and node-saml are driven by pysaml2's IdP, pysaml2 by python3-saml's.

What it proves per driver:
  - IdP-initiated: the other library's signed LogoutRequest (transient and persistent NameID,
    configured fields and IdP metadata file) is accepted by `slo`, which reports the NameID and
    SessionIndex; the driver's LogoutResponse URL is verified by the other library (query
    signature with the SP certificate from metadata, InResponseTo, Destination, Status Success)
    and its signature again over the raw query octets (cryptography);
  - SP-initiated: `logout`'s URL is the IdP's SLO URL, its LogoutRequest has ID = request_id,
    Destination, Issuer, NameID and Format, SessionIndex, SigAlg rsa-sha256, a signature that
    verifies over the raw query octets and is accepted by the other library, which answers
    Success and Success/PartialLogout: `slo --request-id` reports both status levels;
  - refusals (exit 1, for the reason in REASONS): a LogoutRequest with the Signature parameter
    removed, with SigAlg and Signature removed, with SigAlg changed, with the Signature changed,
    signed by a foreign key, from an unknown Issuer, with a wrong Destination; a LogoutResponse
    unsigned, with SigAlg or Signature changed, signed by a foreign key, answering another
    request, or with status Responder. A variant listed in KNOWN_GAPS may be accepted (printed).
"""

import base64
import concurrent.futures
import datetime
import zlib
from urllib.parse import parse_qsl, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from saml2 import BINDING_HTTP_REDIRECT, samlp
from saml2.config import IdPConfig
from saml2.saml import NameID
from saml2.server import Server
from saml2.sigver import get_xmlsec_binary, verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
FORMATS = {"persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
           "transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"}
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
PARTIAL = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"

# Which IdP library plays the IdP for each driver (never the driver's own).
IDP_FOR = {"python3-saml": "pysaml2", "pysaml2": "python3-saml", "node-saml": "pysaml2"}

KNOWN_GAPS = {
    # python3-saml compares Destination with startswith(slo_url).
    "python3-saml": {"slo-request-destination-prefix"},
    "pysaml2": set(),
    # node-saml checks no Destination of a logout message (see node_saml_sp.js).
    "node-saml": {"slo-request-wrong-destination", "slo-request-destination-prefix"},
}

_UNSIGNED = {"python3-saml": "is not signed", "pysaml2": "driver: the LogoutResponse has no query signature",
             "node-saml": "driver: the logout message has no query signature"}
REASONS = {
    "python3-saml": {
        "slo-request-no-signature": "The SAMLRequest is not signed",
        "slo-request-no-sigalg-signature": "The SAMLRequest is not signed",
        "slo-request-sigalg-changed": "Signature validation failed",
        "slo-request-signature-changed": "Signature validation failed",
        "slo-request-foreign-key": "Signature validation failed",
        "slo-request-unknown-issuer": "Invalid issuer in the Logout Request",
        "slo-request-wrong-destination": "The LogoutRequest was received at",
        "slo-response-no-signature": "The SAMLResponse is not signed",
        "slo-response-sigalg-changed": "Signature validation failed",
        "slo-response-signature-changed": "Signature validation failed",
        "slo-response-foreign-key": "Signature validation failed",
        "slo-response-wrong-inresponseto": "does not match the ID of the Logout request sent by the SP",
        "slo-response-status-responder": "logout_not_success",
    },
    "pysaml2": {
        "slo-request-no-signature": "Request was not signed correctly",
        "slo-request-no-sigalg-signature": "Request was not signed correctly",
        "slo-request-sigalg-changed": "Request was not signed correctly",
        "slo-request-signature-changed": "Request was not signed correctly",
        "slo-request-foreign-key": "Request was not signed correctly",
        "slo-request-unknown-issuer": "Request was not signed correctly",
        "slo-request-wrong-destination": "Not destined for me",
        "slo-request-destination-prefix": "Not destined for me",
        "slo-response-no-signature": _UNSIGNED["pysaml2"],
        "slo-response-sigalg-changed": "does not verify",
        "slo-response-signature-changed": "does not verify",
        "slo-response-foreign-key": "does not verify",
        "slo-response-wrong-inresponseto": "Not the id I expected",
        "slo-response-status-responder": "Responder",
    },
    "node-saml": {
        "slo-request-no-signature": _UNSIGNED["node-saml"],
        "slo-request-no-sigalg-signature": _UNSIGNED["node-saml"],
        "slo-request-sigalg-changed": "Invalid query signature",
        "slo-request-signature-changed": "Invalid query signature",
        "slo-request-foreign-key": "Invalid query signature",
        "slo-request-unknown-issuer": "Unknown SAML issuer",
        "slo-response-no-signature": _UNSIGNED["node-saml"],
        "slo-response-sigalg-changed": "Invalid query signature",
        "slo-response-signature-changed": "Invalid query signature",
        "slo-response-foreign-key": "Invalid query signature",
        "slo-response-wrong-inresponseto": "InResponseTo is not valid",
        "slo-response-status-responder": "Bad status code",
    },
}


# ---------------------------------------------------------------- the IdP side

class Python3SamlIdp:
    """python3-saml with the roles swapped: "sp" is the IdP, "idp" is the driver's SP."""

    library = "python3-saml"

    def __init__(self, cfg, keys, sp, entity_id=None):
        self.cfg = cfg
        self.slo_url = cfg["idp_slo_url"]
        self.entity_id = entity_id or cfg["idp_entity_id"]
        self.keys = keys
        self.sp = sp

    def _settings(self, sp_slo_url=None):
        return OneLogin_Saml2_Settings({
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": self.entity_id,
                "assertionConsumerService": {"url": self.cfg["idp_sso_url"], "binding": C.BINDING_HTTP_POST},
                "singleLogoutService": {"url": self.slo_url, "binding": C.BINDING_HTTP_REDIRECT},
                "x509cert": open(self.keys["cert_file"]).read(),
                "privateKey": open(self.keys["key_file"]).read(),
            },
            "idp": {
                "entityId": self.cfg["entity_id"],
                "singleSignOnService": {"url": self.cfg["acs_url"], "binding": C.BINDING_HTTP_REDIRECT},
                "singleLogoutService": {"url": sp_slo_url or self.cfg["slo_url"], "binding": C.BINDING_HTTP_REDIRECT},
                "x509cert": self.sp["der_b64"],
            },
            "security": {"logoutRequestSigned": True, "logoutResponseSigned": True, "wantMessagesSigned": True,
                         "rejectDeprecatedAlgorithm": True, "signatureAlgorithm": C.RSA_SHA256,
                         "digestAlgorithm": C.SHA256},
        }, sp_validation_only=False)

    def _auth(self, settings, url=None):
        u = urlsplit(url or self.slo_url)
        return OneLogin_Saml2_Auth({
            "https": "on" if u.scheme == "https" else "off", "http_host": u.netloc, "script_name": u.path,
            "get_data": dict(parse_qsl(u.query, keep_blank_values=True)), "post_data": {},
            "query_string": u.query, "validate_signature_from_qs": True,
        }, settings)

    def logout_request(self, name_id, fmt, session_index, relay_state, destination=None):
        """(URL at the SP's slo_url, request ID): a signed LogoutRequest, Destination as given."""
        settings = self._settings(destination)
        auth = self._auth(settings)
        url = auth.logout(return_to=relay_state, name_id=name_id, session_index=session_index,
                          name_id_format=FORMATS[fmt])
        if destination:  # signed for `destination`, sent to slo_url
            url = self.cfg["slo_url"] + url[url.index("?"):]
        return url, auth.get_last_request_id()

    def check_response(self, url, request_id):
        """(accepted, reason, [status codes]) of the SP's LogoutResponse URL."""
        auth = self._auth(self._settings(), url)
        auth.process_slo(keep_local_session=True, request_id=request_id)
        codes = [n.get("Value") for n in etree.fromstring(auth.get_last_response_xml().encode()).iter(
            "{%s}StatusCode" % NS["samlp"])]
        errors = auth.get_errors()
        return not errors, auth.get_last_error_reason() or ", ".join(errors), codes

    def answer_request(self, url, status=(SUCCESS, None)):
        """(accepted, reason, LogoutResponse URL) for the SP's LogoutRequest URL: process_slo verifies
        the request and builds a signed Success; another status is put into the response
        python3-saml built (it writes only a top-level code) before it is signed."""
        auth = self._auth(self._settings(), url)
        resp_url = auth.process_slo(keep_local_session=True)
        if auth.get_errors():
            return False, auth.get_last_error_reason() or ", ".join(auth.get_errors()), None
        if status == (SUCCESS, None):
            return True, "", resp_url
        top, sub = status
        q = dict(parse_qsl(urlsplit(resp_url).query))
        xml = zlib.decompress(base64.b64decode(q["SAMLResponse"]), -15).decode()
        code = '<samlp:StatusCode Value="%s"' % SUCCESS
        inner = '<samlp:StatusCode Value="%s">%s</samlp:StatusCode>' % (
            top, '<samlp:StatusCode Value="%s"/>' % sub if sub else "")
        xml = xml[:xml.index(code)] + inner + xml[xml.index("/>", xml.index(code)) + 2:]
        params = {"SAMLResponse": OneLogin_Saml2_Utils.deflate_and_base64_encode(xml)}
        if "RelayState" in q:
            params["RelayState"] = q["RelayState"]
        auth.add_response_signature(params, C.RSA_SHA256)
        return True, "", OneLogin_Saml2_Utils.redirect(self.cfg["slo_url"], params)


class Pysaml2Idp:
    """pysaml2's IdP (saml2.server.Server) with the driver's metadata."""

    library = "pysaml2"

    def __init__(self, cfg, keys, sp_metadata, entity_id=None):
        self.cfg = cfg
        self.slo_url = cfg["idp_slo_url"]
        conf = IdPConfig()
        conf.load({
            "entityid": entity_id or cfg["idp_entity_id"],
            "key_file": keys["key_file"],
            "cert_file": keys["cert_file"],
            "xmlsec_binary": get_xmlsec_binary(["/usr/bin", "/usr/local/bin"]),
            "metadata": {"inline": [sp_metadata]},
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "accepted_time_diff": 2,
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(cfg["idp_sso_url"], BINDING_HTTP_REDIRECT)],
                              "single_logout_service": [(self.slo_url, BINDING_HTTP_REDIRECT)]},
                # Makes _parse_request demand and verify the Redirect query signature.
                "want_authn_requests_signed": True,
                "logout_requests_signed": True,
                "logout_responses_signed": True,
            }},
        })
        self.srv = Server(config=conf)

    def logout_request(self, name_id, fmt, session_index, relay_state, destination=None):
        expire = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        req_id, req = self.srv.create_logout_request(
            destination or self.cfg["slo_url"], self.cfg["entity_id"], name_id=NameID(format=FORMATS[fmt], text=name_id),
            session_indexes=[session_index], expire=expire, sign=False)
        info = self.srv.apply_binding(BINDING_HTTP_REDIRECT, str(req), self.cfg["slo_url"], relay_state or "",
                                      sign=True, sigalg=SIG_RSA_SHA256)
        return dict(info["headers"])["Location"], req_id

    def _query(self, url):
        return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))

    def check_response(self, url, request_id):
        q = self._query(url)
        if urlsplit(url)._replace(query="").geturl() != self.slo_url:
            return False, "sent to %s, not to the IdP's SLO URL" % url, []
        resp = self.srv.parse_logout_request_response(q["SAMLResponse"], BINDING_HTTP_REDIRECT)
        codes = []
        sc = resp.response.status.status_code
        while sc is not None:
            codes.append(sc.value)
            sc = sc.status_code
        if "Signature" not in q:
            return False, "no query signature", codes
        certs = self.srv.metadata.certs(resp.issuer(), "any", "signing")
        msg = {k: q[k] for k in ("SAMLResponse", "RelayState", "SigAlg", "Signature") if k in q}
        if not any(verify_redirect_signature(msg, self.srv.sec.sec_backend, c) for _, c in certs):
            return False, "query signature does not verify with the SP's certificate", codes
        if resp.in_response_to != request_id:
            return False, "InResponseTo %r is not %r" % (resp.in_response_to, request_id), codes
        if resp.response.destination != self.slo_url:
            return False, "Destination %r" % resp.response.destination, codes
        return True, "", codes

    def answer_request(self, url, status=(SUCCESS, None)):
        q = self._query(url)
        try:
            req = self.srv.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"),
                                                sigalg=q.get("SigAlg"), signature=q.get("Signature"))
        except Exception as e:  # noqa: BLE001 - pysaml2 refuses by raising
            return False, "%s: %s" % (type(e).__name__, e), None
        top, sub = status
        st = samlp.Status(status_code=samlp.StatusCode(
            value=top, status_code=samlp.StatusCode(value=sub) if sub else None))
        resp = self.srv.create_logout_response(req.message, [BINDING_HTTP_REDIRECT], status=st, sign=False)
        rinfo = self.srv.response_args(req.message, [BINDING_HTTP_REDIRECT])
        info = self.srv.apply_binding(BINDING_HTTP_REDIRECT, str(resp), rinfo["destination"],
                                      q.get("RelayState") or "", response=True, sign=True, sigalg=SIG_RSA_SHA256)
        return True, "", dict(info["headers"])["Location"]


# ---------------------------------------------------------------- query helpers

def raw_params(url):
    """[(name, raw value)] of the query, in order, as sent."""
    return [tuple(p.partition("=")[::2]) for p in urlsplit(url).query.split("&") if p]


def with_params(url, params):
    return url.split("?", 1)[0] + "?" + "&".join("%s=%s" % kv for kv in params)


def without(url, *names):
    return with_params(url, [(k, v) for k, v in raw_params(url) if k not in names])


def replaced(url, name, value):
    return with_params(url, [(k, value if k == name else v) for k, v in raw_params(url)])


def flipped_signature(url):
    raw = dict(raw_params(url))["Signature"]
    sig = bytearray(base64.b64decode(dict(parse_qsl(urlsplit(url).query))["Signature"]))
    sig[len(sig) // 2] ^= 0x01
    from urllib.parse import quote
    return replaced(url, "Signature", quote(base64.b64encode(bytes(sig)).decode(), safe="")) if raw else url


def raw_signature_verifies(url, kind, cert):
    """SAML bindings 3.4.4.1 over the octets as sent: kind=..&RelayState=..&SigAlg=.."""
    raw = dict(raw_params(url))
    signed = kind + "=" + raw[kind]
    if "RelayState" in raw:
        signed += "&RelayState=" + raw["RelayState"]
    signed += "&SigAlg=" + raw["SigAlg"]
    try:
        cert.public_key().verify(base64.b64decode(dict(parse_qsl(urlsplit(url).query))["Signature"]),
                                 signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, KeyError, ValueError):
        return False


def decoded(url, kind):
    q = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return q, etree.fromstring(zlib.decompress(base64.b64decode(q[kind]), -15))


# ---------------------------------------------------------------- the checks

def run(name, ctx):
    """ctx: check, driver_json, answer, notes, cfg files, cfg, sp/idp/foreign key pairs, sp metadata."""
    check, cfg = ctx["check"], ctx["cfg"]
    lib = IDP_FOR[name]
    sp_md = ctx["sp_metadata"]

    def make_idp(keys, entity_id=None):
        if lib == "pysaml2":
            return Pysaml2Idp(cfg, keys, sp_md, entity_id)
        return Python3SamlIdp(cfg, keys, ctx["sp"], entity_id)

    idp = make_idp(ctx["idp"])
    foreign_idp = make_idp(ctx["foreign"])
    label = "%s slo (IdP: %s)" % (name, lib)

    def slo(url, request_id=None, cfg_file=None):
        args = ["slo", "--config", cfg_file or ctx["cfg_file"], "--url", url]
        if request_id:
            args += ["--request-id", request_id]
        return ctx["driver_json"](name, *args)

    # IdP-initiated, both NameID formats, configured fields and metadata file.
    for fmt, cfg_file, how in (("transient", ctx["cfg_file"], "fields"), ("persistent", ctx["cfg_md_file"], "metadata")):
        nid = "AAdzZWNyZXQx-%s" % fmt
        url, rid = idp.logout_request(nid, fmt, "_sess-1", "rs-slo")
        code, out, err = slo(url, cfg_file=cfg_file)
        what = "%s accepts the IdP's LogoutRequest (%s, IdP by %s)" % (label, fmt, how)
        if not check(code == 0 and out and out.get("ok") is True and out.get("kind") == "request",
                     "%s: exit %s %s %s" % (what, code, out, err.strip()[-400:])):
            continue
        check(out.get("name_id") == nid, "%s: name_id %r" % (what, out.get("name_id")))
        check(out.get("session_indexes") == ["_sess-1"], "%s: session_indexes %r" % (what, out.get("session_indexes")))
        rurl = out.get("response_url") or ""
        check(rurl.startswith(cfg["idp_slo_url"] + "?"), "%s: response_url at the IdP's SLO URL" % what)
        ok, why, codes = idp.check_response(rurl, rid)
        check(ok, "%s: %s accepts the driver's LogoutResponse %s" % (what, lib, why))
        check(codes == [SUCCESS], "%s: LogoutResponse status %s" % (what, codes))
        q, doc = decoded(rurl, "SAMLResponse")
        check(doc.tag == "{%s}LogoutResponse" % NS["samlp"] and doc.get("InResponseTo") == rid,
              "%s: a LogoutResponse with InResponseTo = the request ID" % what)
        check(doc.get("Destination") == cfg["idp_slo_url"], "%s: LogoutResponse Destination" % what)
        check(q.get("RelayState") == "rs-slo" and q.get("SigAlg") == RSA_SHA256,
              "%s: RelayState echoed, SigAlg rsa-sha256 (%s, %s)" % (what, q.get("RelayState"), q.get("SigAlg")))
        check(raw_signature_verifies(rurl, "SAMLResponse", ctx["sp"]["cert"]),
              "%s: LogoutResponse signature verifies over the raw query octets" % what)

    good, rid = idp.logout_request("AAdzZWNyZXQx", "transient", "_sess-1", "rs-slo")
    hostile = {
        "slo-request-no-signature": without(good, "Signature"),
        "slo-request-no-sigalg-signature": without(good, "Signature", "SigAlg"),
        "slo-request-sigalg-changed": replaced(good, "SigAlg", RSA_SHA512.replace(":", "%3A").replace("/", "%2F")
                                               .replace("#", "%23")),
        "slo-request-signature-changed": flipped_signature(good),
        "slo-request-foreign-key": foreign_idp.logout_request("AAdzZWNyZXQx", "transient", "_sess-1", "rs-slo")[0],
        "slo-request-unknown-issuer": make_idp(ctx["idp"], "http://127.0.0.1:1/evil-idp").logout_request(
            "AAdzZWNyZXQx", "transient", "_sess-1", "rs-slo")[0],
        "slo-request-wrong-destination": idp.logout_request("AAdzZWNyZXQx", "transient", "_sess-1", "rs-slo",
                                                            destination=cfg["acs_url"])[0],
        "slo-request-destination-prefix": idp.logout_request("AAdzZWNyZXQx", "transient", "_sess-1", "rs-slo",
                                                             destination=cfg["slo_url"] + "/x")[0],
    }
    for (variant, _), answered in zip(hostile.items(), parallel(lambda u: slo(u), hostile.values())):
        refuses(name, ctx, variant, answered)

    # SP-initiated.
    code, out, err = ctx["driver_json"](name, "logout", "--config", ctx["cfg_file"], "--name-id", "AAdzZWNyZXQx",
                                        "--name-id-format", "persistent", "--session-index", "_sess-1",
                                        "--relay-state", "rs-lo")
    what = "%s logout" % name
    if not check(code == 0 and out and out.get("request_id"), "%s exits 0: %s %s" % (what, out, err.strip()[-400:])):
        return
    check(out.get("binding") == "redirect" and out.get("signed") is True, what + ": binding redirect, signed")
    lurl = out["url"]
    check(lurl.startswith(cfg["idp_slo_url"] + "?"), what + ": URL at the IdP's SLO URL")
    q, doc = decoded(lurl, "SAMLRequest")
    nid = doc.find("saml:NameID", NS)
    sis = [e.text for e in doc.findall("samlp:SessionIndex", NS)]
    check(doc.tag == "{%s}LogoutRequest" % NS["samlp"] and doc.get("ID") == out["request_id"],
          what + ": a LogoutRequest with ID = request_id")
    check(doc.get("Destination") == cfg["idp_slo_url"], what + ": Destination = idp_slo_url")
    check(doc.findtext("saml:Issuer", namespaces=NS) == cfg["entity_id"], what + ": Issuer = entity id")
    check(nid is not None and nid.text == "AAdzZWNyZXQx" and nid.get("Format") == FORMATS["persistent"],
          what + ": NameID and Format")
    check(sis == ["_sess-1"], what + ": one SessionIndex (%s)" % sis)
    check(q.get("RelayState") == "rs-lo" and q.get("SigAlg") == RSA_SHA256, what + ": RelayState, SigAlg rsa-sha256")
    check(raw_signature_verifies(lurl, "SAMLRequest", ctx["sp"]["cert"]),
          what + ": signature verifies over the raw query octets")
    check(not raw_signature_verifies(lurl, "SAMLRequest", ctx["foreign"]["cert"]),
          what + ": ... and not with a foreign certificate")
    for status, want in (((SUCCESS, None), (SUCCESS, None)), ((SUCCESS, PARTIAL), (SUCCESS, PARTIAL))):
        ok, why, rurl = idp.answer_request(lurl, status)
        w = "%s: %s verifies the LogoutRequest and answers %s" % (what, lib, "/".join(s for s in status if s))
        if not check(ok, "%s %s" % (w, why)):
            continue
        code, res, err = slo(rurl, out["request_id"])
        check(code == 0 and res and res.get("kind") == "response" and (res.get("status"), res.get("sub_status")) == want,
              "%s: slo reports %s: exit %s %s %s" % (w, want, code, res, err.strip()[-300:]))
    ok, why = idp.answer_request(without(lurl, "Signature"))[:2]
    check(not ok, "%s: %s refuses the LogoutRequest without its Signature (%s)" % (what, lib, why))

    ok_resp = idp.answer_request(lurl)[2]
    other = ctx["driver_json"](name, "logout", "--config", ctx["cfg_file"], "--name-id", "AAdzZWNyZXQx",
                               "--name-id-format", "persistent", "--session-index", "_sess-1")[1]
    hostile = {
        "slo-response-no-signature": without(ok_resp, "Signature"),
        "slo-response-sigalg-changed": replaced(ok_resp, "SigAlg", RSA_SHA512.replace(":", "%3A").replace("/", "%2F")
                                                .replace("#", "%23")),
        "slo-response-signature-changed": flipped_signature(ok_resp),
        "slo-response-foreign-key": foreign_idp.answer_request(lurl)[2],
        "slo-response-wrong-inresponseto": idp.answer_request(other["url"])[2] if other else ok_resp,
        "slo-response-status-responder": idp.answer_request(lurl, (RESPONDER, None))[2],
    }
    answers = parallel(lambda u: slo(u, out["request_id"]), hostile.values())
    for (variant, _), answered in zip(hostile.items(), answers):
        out2 = refuses(name, ctx, variant, answered)
        if variant == "slo-response-status-responder" and out2 and out2.get("error"):
            check("Responder" in out2["error"], "%s reports the status of %s: %s" % (name, variant, out2["error"]))


def parallel(fn, items):
    """The driver runs are independent processes (~0.5 s of imports each): side by side."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(fn, items))


def refuses(name, ctx, variant, answered):
    code, out, err = answered
    verdict, text = ctx["answer"](code, out, err)
    known = variant in KNOWN_GAPS.get(name, set())
    print("  %s / %s: %s%s" % (name, variant, verdict, ": " + text[:300] if text else ""))
    if verdict == "error":
        ctx["check"](False, "%s on %s: error, not a refusal: %s" % (name, variant, text))
    elif known and verdict == "accepted":
        ctx["notes"].append("%s ACCEPTS %s (known library gap)" % (name, variant))
    elif known:
        ctx["notes"].append("%s now refuses %s (listed as a known gap: %s)" % (name, variant, text))
    elif ctx["check"](verdict == "refused", "%s refuses %s" % (name, variant)):
        want = REASONS[name].get(variant)
        ctx["check"](want is not None and want.lower() in text.lower(),
                     "%s refuses %s for its reason %r: %s" % (name, variant, want, text))
    return out
